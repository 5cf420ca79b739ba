"""Training stage: fit a compiled Keras model with checkpoints, early stopping, a time budget,
a backup after every epoch for ``--resume``, and a clean stop on Ctrl-C.

Owns the training loop policy: Adam (in ``model.compile_model``), ModelCheckpoint of the best
validation loss (loaded at the end), EarlyStopping, an optional ReduceLROnPlateau, a wall-clock
budget, a per-epoch history with elapsed seconds, TensorBoard logs in the run folder, and the
epoch-exact resume (``resume.py``).
"""

from __future__ import annotations

import contextlib
import csv
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import keras

from . import resume
from .windows import Windows

TENSORBOARD = "tensorboard"  # the run folder's TensorBoard log folder


@dataclass(frozen=True)
class Schedule:
    epochs: int
    patience: int
    batch_size: int = 64
    seed: int = 0  # decides each epoch's batch order, with the epoch number
    max_minutes: float | None = None
    lr_factor: float = 1.0  # < 1: ReduceLROnPlateau multiplies the rate by it
    lr_patience: int = 1


class WallClock(keras.callbacks.Callback):
    """Adds ``seconds`` (training time, earlier sessions included) to each epoch's logs; stops
    past ``budget_s``. An epoch the budget cut short gets ``epoch_fraction`` (the share of its
    batches trained) in its logs: Keras still validates it and calls it an epoch."""

    def __init__(self, budget_s: float | None, offset: float = 0.0):
        super().__init__()
        self.budget_s = budget_s
        self.offset = offset
        self.start = time.perf_counter()
        self.out_of_time = False
        self.fraction: float | None = None  # of the epoch the budget cut, if it cut one short

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return self.offset + time.perf_counter() - self.start

    def on_train_batch_end(self, batch, logs=None):
        if self.budget_s is not None and self.elapsed() > self.budget_s and not self.out_of_time:
            self.out_of_time = True
            self.model.stop_training = True
            steps = (self.params or {}).get("steps")
            if steps and batch + 1 < steps:
                self.fraction = (batch + 1) / steps

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(self.elapsed(), 2)
            if self.fraction is not None:
                logs["epoch_fraction"] = round(self.fraction, 4)


class StopOnSignal(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the next batch boundary once ``flag`` is set (by SIGINT), so
    the interrupted epoch is dropped before any callback records it."""

    def __init__(self, flag: threading.Event):
        super().__init__()
        self.flag = flag

    def _check(self, *_, **__):
        if self.flag.is_set():
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_begin = _check


@contextlib.contextmanager
def sigint_flag():
    """While inside, Ctrl-C sets the yielded Event instead of raising wherever TensorFlow is."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda *_: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class Backup(keras.callbacks.Callback):
    """After each epoch (and after the callbacks before it updated their state): the history row
    and a snapshot in ``folder``. On resume, gives the callbacks back their saved state."""

    def __init__(self, folder: Path, clock: WallClock, tracked: dict, snap: resume.Snapshot):
        super().__init__()
        self.folder, self.clock, self.tracked, self.snap = folder, clock, tracked, snap

    def on_train_begin(self, logs=None):
        resume.restore_callbacks(self.tracked, self.snap.callbacks)  # they reset in on_train_begin

    def on_epoch_end(self, epoch, logs=None):
        self.snap.rows.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        self.snap.epoch, self.snap.seconds = epoch + 1, self.clock.elapsed()
        self.snap.finished = bool(self.model.stop_training)
        self.snap.callbacks = {name: resume.callback_state(cb) for name, cb in self.tracked.items()}
        resume.save(self.folder, self.model, self.snap)


def seed_everything(seed: int) -> None:
    """Python, numpy and TensorFlow seeds, and deterministic TensorFlow ops."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def whole_epochs(rows: list[dict]) -> int:
    """Epochs trained in full: a last epoch cut short by the time budget does not count."""
    return sum(1 for row in rows if row.get("epoch_fraction", 1.0) >= 1.0)


def write_history(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, keys)
        writer.writeheader()
        writer.writerows(rows)


def fit(model, train: Windows, val: Windows, arch: str, workdir: Path, schedule: Schedule, verbose=0, resume_run: bool = False,
        progress: keras.callbacks.Callback | None = None):
    """Train in ``workdir`` (the run's staging folder); returns (history rows, wall clock). The
    model ends with its best weights. With ``resume_run`` it first loads ``workdir/backup`` and
    continues after its last completed epoch, as if never interrupted. ``progress``: a callback
    that shows the epochs (it sees each epoch's logs after the clock has added its seconds and
    the share of an epoch the budget cut), instead of Keras's bar (``verbose``)."""
    s = schedule
    snap = resume.load(workdir / resume.BACKUP, model) if resume_run else resume.Snapshot()
    clock = WallClock(None if s.max_minutes is None else s.max_minutes * 60, snap.seconds)
    tracked = {
        "checkpoint": keras.callbacks.ModelCheckpoint(workdir / resume.BEST, monitor="val_loss", save_best_only=True, save_weights_only=True),
        "early_stopping": keras.callbacks.EarlyStopping(monitor="val_loss", patience=s.patience),
    }
    if s.lr_factor < 1:
        tracked["lr"] = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=s.lr_factor, patience=s.lr_patience, min_lr=1e-5)
    if snap.epoch < s.epochs and not snap.finished:
        with sigint_flag() as flag:
            # TensorBoard's event files (losses and learning rate per epoch; no graph, no profile) in
            # the run folder: `tensorboard --logdir RUN/tensorboard`.
            board = keras.callbacks.TensorBoard(str(workdir / TENSORBOARD), write_graph=False, profile_batch=0)
            shown = [progress] if progress is not None else []
            callbacks = [StopOnSignal(flag), clock, *tracked.values(), *shown, board, Backup(workdir / resume.BACKUP, clock, tracked, snap)]
            model.fit(
                train.dataset(arch, s.batch_size, s.seed, snap.epoch, s.epochs), steps_per_epoch=train.steps(arch, s.batch_size),
                validation_data=val.dataset(arch, s.batch_size), epochs=s.epochs, initial_epoch=snap.epoch,
                callbacks=callbacks, verbose=verbose, shuffle=False,  # the dataset shuffles, per epoch
            )
    if (workdir / resume.BEST).exists():
        model.load_weights(workdir / resume.BEST)
    clock.out_of_time = clock.out_of_time or (s.max_minutes is not None and snap.seconds > s.max_minutes * 60)
    write_history(workdir / "history.csv", snap.rows)
    return snap.rows, clock
