"""Resumable training: a backup of everything needed to continue exactly after an epoch.

Owns the ``backup/`` folder inside a run's staging folder. After every completed epoch it holds:

    epoch-<n>.npz   every model variable (weights and dropout seed-generator states) and every
                    optimizer variable (Adam moments, step count, learning rate)
    state.json      completed epochs, training seconds so far, the history rows, the callbacks'
                    state (early stopping, checkpoint, learning-rate schedule), and which .npz

This is what Keras ``BackupAndRestore`` does (weights, optimizer, epoch), plus the callbacks'
state and the dropout seeds, which it does not save. Files are written to a temporary name and
renamed, and ``state.json`` last, so a kill at any moment leaves the previous epoch intact.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError

BACKUP = "backup"  # the backup folder inside the staging folder
BEST = "best.weights.h5"  # ModelCheckpoint's best weights, beside it
SETTINGS = "settings.json"  # the run's settings, which a resume must match
PRETRAIN = "pretrain"  # the pre-training phase's own backup and best weights (train.py --pretrain), inside the staging folder
STATE = "state.json"
# The attributes of each stateful Keras callback that decide what it does next.
CALLBACK_STATE = {
    "EarlyStopping": ("wait", "best", "best_epoch", "stopped_epoch"),
    "ModelCheckpoint": ("best",),
    "ReduceLROnPlateau": ("wait", "best", "cooldown_counter"),
}


@dataclass
class Snapshot:
    epoch: int = 0  # completed epochs
    seconds: float = 0.0  # training seconds so far
    finished: bool = False  # early stopping or the time budget had ended training
    rows: list[dict] = field(default_factory=list)
    callbacks: dict[str, dict] = field(default_factory=dict)


def phase_backup(folder: Path) -> bool:
    """Whether one training phase saved an epoch in ``folder`` (the staging folder, or its
    ``PRETRAIN`` folder for the pre-training phase)."""
    return (folder / BACKUP / STATE).is_file()


def has_backup(stage: Path) -> bool:
    """Whether the run in ``stage`` saved any epoch, of pre-training or of training."""
    return phase_backup(stage) or phase_backup(stage / PRETRAIN)


def describe(stage: Path) -> str:
    """'3 completed epochs' (or '2 completed epochs of pre-training'), for messages."""
    folder, phase = (stage, "") if phase_backup(stage) else (stage / PRETRAIN, " of pre-training")
    try:
        n = int(json.loads((folder / BACKUP / STATE).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return "a backup"
    return f"{n} completed epoch{'' if n == 1 else 's'}{phase}"


def _variables(model) -> list:
    return list(model.variables) + list(model.optimizer.variables)


def callback_state(callback) -> dict:
    names = CALLBACK_STATE.get(type(callback).__name__, ())
    return {name: _plain(getattr(callback, name)) for name in names if hasattr(callback, name)}


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def save(folder: Path, model, snap: Snapshot) -> None:
    """Write the snapshot for ``snap.epoch`` completed epochs; older ones are removed after."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{snap.epoch}.npz"
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as handle:
        np.savez(handle, *[np.asarray(v.numpy()) for v in _variables(model)])
    os.replace(tmp, folder / name)
    state = {"epoch": snap.epoch, "seconds": snap.seconds, "finished": snap.finished, "arrays": name,
             "rows": snap.rows, "callbacks": snap.callbacks}
    tmp = folder / f".{STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
    os.replace(tmp, folder / STATE)
    for old in folder.glob("epoch-*.npz"):
        if old.name != name:
            old.unlink()


def load(folder: Path, model) -> Snapshot:
    """Read the latest snapshot and assign its variables to ``model`` (compiled, same graph)."""
    fresh = "start afresh: run the same command without --resume, adding --overwrite"
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
        with np.load(folder / state["arrays"]) as archive:
            arrays = [archive[f"arr_{i}"] for i in range(len(archive.files))]
        snap = Snapshot(int(state["epoch"]), float(state["seconds"]), bool(state["finished"]), list(state["rows"]), dict(state["callbacks"]))
    except FileNotFoundError as err:
        raise UserError(f"the backup in {folder} is incomplete ({Path(err.filename).name} missing); {fresh}") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError) as err:
        raise UserError(f"the backup in {folder} is damaged ({err.__class__.__name__}); {fresh}") from None
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    variables = _variables(model)
    shapes = [tuple(v.shape) for v in variables]
    if [a.shape for a in arrays] != shapes:
        raise UserError(f"the backup in {folder} does not fit this model ({len(arrays)} arrays for {len(shapes)} variables); {fresh}")
    for variable, array in zip(variables, arrays):
        variable.assign(array)
    return snap


def restore_callbacks(callbacks: dict, saved: dict[str, dict]) -> None:
    """Put each callback back in the state it had when the snapshot was taken."""
    for name, callback in callbacks.items():
        for attr, value in saved.get(name, {}).items():
            setattr(callback, attr, value)
