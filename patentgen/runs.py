"""Run folders: one folder holds a trained model's weights, tokenizer, config, split and metrics.

Owns the layout on disk, atomic writing and checked loading:

    model.keras      the Keras model, without optimizer state
    weights.npz      the same weights as named arrays, for numpy inference (no TensorFlow)
    tokenizer.json   the vocabulary and text rules
    config.json      every setting, the corpus path, its SHA-256 and the split seed
    split.json       document indices of train / val / test
    metrics.json     evaluation figures and training time
    history.csv      one row per epoch

A run is written into a hidden staging folder beside its destination (``.NAME.partial``) and
renamed into place only when complete, so an interrupted run never leaves a half-written model,
and an existing run is replaced only with ``overwrite``. While training, the staging folder also
holds the backup that ``--resume`` continues from.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config, corpus, deps, resume
from .cache import Caches
from .critic import Critic, Guide
from .errors import UserError
from .tokenizer import Tokenizer

FILES = ("weights.npz", "tokenizer.json", "config.json", "metrics.json")  # + model.keras for Keras runs


def write_json(path: Path, data) -> None:
    """Write JSON atomically: a temporary file in the same folder, then a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path} ({err.__class__.__name__}); the run folder is damaged, retrain it") from None


# What train.py writes into a run folder: --overwrite
# replaces only a folder that holds nothing else, so it never deletes a file of the user's.
RUN_CONTENTS = frozenset({*FILES, "model.keras", "split.json", "history.csv", "learning_curve.png", "tensorboard"})


def _leftover(name: str) -> bool:
    """A temporary file of ``write_json`` left by a kill (``.config.json.tmp``): the run's own."""
    return name.startswith(".") and name.endswith(".tmp") and name[1:-4] in RUN_CONTENTS


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (both resolved, links followed)."""
    return path.resolve().is_relative_to(folder.resolve())


def check_destination(out: Path, overwrite: bool, keep: dict[str, str | Path | None] | None = None) -> None:
    """A UserError unless ``out`` may become a run folder: it does not exist, or ``overwrite``
    is given and it is a run folder (it holds only what train.py writes) or an empty folder.
    ``keep``: paths the run reads ({"--data": path, ...}), which ``out`` may neither be nor hold."""
    for flag, path in (keep or {}).items():
        if path and Path(path).exists() and _inside(Path(path), out):
            what = "is" if Path(path).resolve() == out.resolve() else "holds"
            raise UserError(f"--out {out} {what} {flag} {path}, which the run reads; pass another --out")
    if not out.exists() and not out.is_symlink():
        return
    if not overwrite:
        raise UserError(f"run folder {out} already exists; pass --overwrite to replace it or --out to pick another")
    if not out.is_dir() or out.is_symlink():
        raise UserError(f"--out {out} is a {'link' if out.is_symlink() else 'file'}, not a run folder; --overwrite replaces "
                        "only a run folder written by train.py: pass another --out")
    entries = sorted(entry.name for entry in out.iterdir())
    if entries and "config.json" not in entries:
        runs_inside = [name for name in entries if (out / name / "config.json").is_file()]
        what = f"a folder of runs ({', '.join(runs_inside[:3])})" if runs_inside else "not a run folder (it has no config.json)"
        raise UserError(f"--out {out} is {what}; --overwrite replaces only a run folder written by train.py: "
                        f"pass --out {out / 'NAME'} for a new run in it")
    foreign = [name for name in entries if name not in RUN_CONTENTS and not _leftover(name)]
    if foreign:
        raise UserError(f"--out {out} holds files that train.py did not write ({', '.join(foreign[:5])}"
                        f"{', ...' if len(foreign) > 5 else ''}); --overwrite would delete them: move them out or pass another --out")


def missing_parents(out: Path) -> list[Path]:
    """The folders above ``out`` that do not exist yet, outermost first (the run creates them)."""
    missing = [parent for parent in out.absolute().parents if not parent.exists()]
    return missing[::-1]


def check_writable(out: Path, flag: str = "--out") -> None:
    """A UserError unless the run folder ``out`` can be created: the nearest existing folder above
    it is a folder, and a folder can be made in it (tried, and removed at once: permissions alone
    do not tell, as on a read-only file system)."""
    import tempfile

    parent = next(p for p in out.absolute().parents if p.exists() or p == p.parent)
    if not parent.is_dir():
        raise UserError(f"{flag} {out}: {parent} is a file, not a folder; pass another {flag}")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".patentgen-probe-", dir=parent))
    except OSError as err:
        raise UserError(f"{flag} {out}: cannot create folders in {parent} ({err.strerror}); "
                        f"pass an {flag} in a folder you can write to") from None


RESUME_STATE = (resume.BACKUP, resume.BEST, resume.SETTINGS, resume.PRETRAIN)  # in the staging folder until the run is complete


def partial_folder(out: Path, worker: int = 0) -> Path:
    """Where a run is staged (and where an interrupted run waits for --resume)."""
    return out.parent / (f".{out.name}.partial" if worker == 0 else f".{out.name}.worker-{worker}.partial")


def check_stage(out: Path, overwrite: bool, resume_run: bool, worker: int = 0,
                keep: dict[str, str | Path | None] | None = None) -> Path:
    """The staging folder, after checking that ``out`` may be written (``check_destination``,
    ``check_writable``), that ``--resume`` has something to resume and that a fresh run would not
    throw an interrupted one away; creates nothing."""
    check_destination(out, overwrite, keep)
    check_writable(out)
    stage = partial_folder(out, worker)
    if resume_run and not resume.has_backup(stage):
        raise UserError(f"nothing to resume for {out}: no completed epoch is saved in {stage}; run without --resume")
    if not resume_run and resume.has_backup(stage) and not overwrite:
        raise UserError(f"an interrupted run of {out} is saved in {stage} ({resume.describe(stage)}); "
                        "add --resume to continue it, or --overwrite to start again")
    return stage


def _open_stage(out: Path, overwrite: bool, resume_run: bool, worker: int, keep: dict | None) -> Path:
    stage = check_stage(out, overwrite, resume_run, worker, keep)
    if resume_run:
        return stage
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    return stage


@contextlib.contextmanager
def staging(out: Path, overwrite: bool, resume_run: bool = False, worker: int = 0, commit: bool = True,
            keep: dict[str, str | Path | None] | None = None):
    """Yield the staging folder: an empty one, or with ``resume_run`` the interrupted run's.

    On success the resume state is dropped and the folder replaces ``out`` (or, with ``commit``
    False, for a helper worker of a multi-worker run, is removed). On failure or Ctrl-C it is
    kept if it holds a completed epoch to resume from, and removed otherwise, with the folders
    above it that were created for it: ``out`` itself is never half-written."""
    created = missing_parents(out)
    stage = _open_stage(out, overwrite, resume_run, worker, keep)
    try:
        yield stage
    except BaseException:
        if not resume.has_backup(stage):
            shutil.rmtree(stage, ignore_errors=True)
            for folder in reversed(created):  # innermost first; only those left empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise
    if not commit:
        shutil.rmtree(stage, ignore_errors=True)
        return
    for name in RESUME_STATE:
        path = stage / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)


def save_model(stage: Path, model) -> None:
    """model.keras without optimizer state, and weights.npz for numpy inference."""
    import keras

    from .model import export_weights

    bare = keras.Model.from_config(model.get_config())  # same graph, never compiled: no optimizer state
    bare.set_weights(model.get_weights())
    bare.save(stage / "model.keras")
    np.savez(stage / "weights.npz", **export_weights(model))


def load_keras(path: str | Path):
    """The run's Keras model (TensorFlow needed); registers patentgen's custom layers first."""
    import keras

    from . import model as _registers_custom_layers  # noqa: F401

    return keras.saving.load_model(Path(path) / "model.keras", compile=False)


@dataclass(frozen=True)
class Run:
    path: Path
    lm: object  # the numpy model of the run's architecture (models/): next_logits, logits, hidden
    tokenizer: Tokenizer
    config: dict
    metrics: dict

    @property
    def caches(self) -> Caches | None:
        """The cache weights fitted on validation text at training (``patentgen.cache``); None
        (the network alone) for a run trained with ``--no-eval`` and not evaluated since."""
        return Caches.from_json(self.config["caches"]) if "caches" in self.config else None

    @property
    def guide(self):
        """What critic-guided decoding needs (``critic.Guide``), from the critic fitted at
        training (``config.json`` ``"critic"``)."""
        return Guide.of(Critic.from_json(self.config["critic"]), self.lm, self.tokenizer.index)


def damaged(path: Path, name: str, err: BaseException) -> UserError:
    """The error for a run folder file that cannot be read, and how to recover."""
    return UserError(
        f"the run folder {path} is damaged: {name} cannot be read ({err.__class__.__name__}: truncated, or not what "
        f"train.py wrote); copy the folder again from where it came, or retrain it with "
        f"`{deps.command('train.py', '--out', str(path), '--overwrite')}` plus the flags in its config.json"
    )


# What np.load raises on a truncated or garbled .npz (a zip archive of .npy files).
NPZ_ERRORS = (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile, zlib.error)


# What every run's config.json records besides its settings (``_require_folder`` checks them).
CONFIG_KEYS = ("arch", "window", "vocab_size", "data", "text_column", "corpus_sha256", "critic")


def _require_folder(path: Path) -> None:
    if path.is_file():
        if (path.parent / "config.json").is_file():
            raise UserError(f"--model takes a run folder, and {path} is a file; pass the folder that holds it: --model {path.parent}")
        raise UserError(f"--model takes a run folder, and {path} is a file; pass a folder written by train.py, "
                        f"such as {config.DEFAULT_MODEL_DIR}")
    if path.name.startswith(".") and path.name.endswith(".partial") and path.is_dir():
        finished = path.parent / path.name[1 : -len(".partial")]
        raise UserError(
            f"{path} is the staging folder of a training run that has not finished, not a model; finish it with "
            f"`{deps.command('train.py', '--out', str(finished), '--resume')}` plus that run's other flags, then pass --model {finished}"
        )
    if not path.is_dir():
        stage = partial_folder(path)
        if resume.has_backup(stage):
            raise UserError(
                f"model folder {path} does not exist yet: its training was interrupted ({resume.describe(stage)} kept in {stage}); "
                f"finish it with `{deps.command('train.py', '--out', str(path), '--resume')}` plus that run's other flags"
            )
        if stage.is_dir():
            raise UserError(f"model folder {path} does not exist yet: it is being trained (staging folder {stage}); wait until training ends")
        raise UserError(f"model folder {path} not found; train one with `{deps.command('train.py', '--out', str(path))}` or pass --model DIR")
    missing = [name for name in FILES if not (path / name).is_file()]
    runs_inside = sorted(child.name for child in path.iterdir() if (child / "config.json").is_file()) if len(missing) == len(FILES) else []
    if runs_inside:
        raise UserError(f"{path} is a folder of runs ({', '.join(runs_inside[:5])}{', ...' if len(runs_inside) > 5 else ''}), "
                        f"not a run; pass one of them: --model {path / runs_inside[0]}")
    if not missing:
        settings = read_json(path / "config.json")
        lacking = [key for key in CONFIG_KEYS if key not in settings]
        if lacking:
            raise UserError(f"model folder {path} was written by an older patentgen (config.json has no {', '.join(lacking)}); "
                            "retrain it with this version")
        missing = [name for name in architecture_of(settings, path).files if not (path / name).is_file()]
    if missing:
        raise UserError(f"model folder {path} is incomplete (missing {', '.join(missing)}); retrain it or pick another --model")


def architecture_of(config: dict, path: Path):
    """The architecture a run folder's config names."""
    from . import models

    name = config["arch"]
    if name not in models.REGISTRY:
        raise UserError(f"model folder {path} holds a {name!r} model, which this version does not know "
                        f"({', '.join(models.NAMES)}); use the patentgen version that trained it, or retrain")
    return models.get(name)


def load_inference(path: str | Path) -> Run:
    """Load a run for numpy inference, checking that its parts agree."""
    path = Path(path)
    _require_folder(path)
    config = read_json(path / "config.json")
    tokenizer = Tokenizer.load(path / "tokenizer.json")
    deps.require(*corpus.NEEDS.get(tokenizer.kind, ()))
    try:
        lm = architecture_of(config, path).load(path, len(tokenizer))
        out_size = lm.logits(np.zeros((1, lm.units), np.float32)).shape[-1]
    except NPZ_ERRORS as err:
        raise damaged(path, "weights.npz", err) from None
    if not (len(tokenizer) == lm.vocab_size == out_size == config["vocab_size"]):
        raise UserError(
            f"model folder {path} does not match its tokenizer: {len(tokenizer)} words in tokenizer.json, "
            f"{lm.vocab_size} embedding rows, {out_size} outputs; retrain the run"
        )
    return Run(path, lm, tokenizer, config, read_json(path / "metrics.json"))


def record_evaluation(run: Run, figures: dict) -> None:
    """Store ``evaluate.evaluate_run``'s figures in the run folder: each split's metrics (and the
    caches' fit) in metrics.json, the caches' weights in config.json where they were fitted."""
    write_json(run.path / "metrics.json", {**run.metrics, **figures})
    if "caches" in figures:
        write_json(run.path / "config.json", {**run.config, "caches": {k: figures["caches"][k] for k in ("phrase", "word")}})


def weights_of(path: str | Path) -> dict[str, np.ndarray]:
    """The named arrays of a run's ``weights.npz`` (what fine-tuning starts from)."""
    from .models.base import read_weights

    try:
        return read_weights(Path(path))
    except NPZ_ERRORS as err:
        raise damaged(Path(path), "weights.npz", err) from None


def corpus_path(run: Run, data: str | None = None) -> Path:
    """The corpus file of a run: ``data`` if given, else the path the run recorded, else a file of
    that name in a data folder (``config.data_folders``: $PATENTGEN_DATA, data/, the user's data
    folder); it may not exist."""
    from .config import data_folders

    name = Path(run.config["data"]).name
    candidates = [Path(data)] if data else [Path(run.config["data"]), *(folder / name for folder in data_folders())]
    return next((p for p in candidates if p.exists()), Path(data) if data else data_folders()[0] / name)


def corpus_file(run: Run, data: str | None = None) -> Path:
    """The corpus file a run was trained on (``corpus_path``), checked by checksum; a UserError
    if it is missing or another file."""
    from .config import DATA_ENV, data_folders

    path = corpus_path(run, data)
    if not path.exists():
        name = Path(run.config["data"]).name
        raise UserError(
            f"corpus {path} not found; put the file the model was trained on ({name}) in "
            f"{data_folders()[0]} (or set {DATA_ENV} to the folder that holds it) or pass --data PATH"
        )
    if corpus.file_checksum(path) != run.config["corpus_sha256"]:
        raise UserError(f"{path} is not the corpus this model was trained on (SHA-256 differs); pass the right --data")
    return path


def corpus_texts(run: Run, data: str | None = None, text_column: str | None = None) -> list[str]:
    """The documents of the corpus a run was trained on (``corpus_file``)."""
    return corpus.read_texts(corpus_file(run, data), text_column or run.config["text_column"])


def cached_tokens(run: Run, side: str, data: str | None = None, text_column: str | None = None,
                  indices: list[int] | None = None, build: bool = True) -> list[list[str]] | None:
    """The tokens of a held-out side ("val" or "test") from the prepared-corpus cache: the entry
    of the run's corpus and settings, built here from the corpus file (``corpus_file``) if it is
    missing and ``build``; None if it is missing and not built. Without the corpus file, the
    entry for the checksum the run recorded is enough. A UserError if the entry's split of
    ``side`` is not the run's (``indices``, read from the run if not given)."""
    from dataclasses import replace

    from . import pipeline
    from .config import TrainConfig

    if indices is None:
        indices = split_indices(run, side)  # a run without a document split: its one-line error first
    cfg = TrainConfig.from_json(run.config)
    cfg = replace(cfg, text_column=text_column or cfg.text_column)
    kept = run.tokenizer if cfg.init_from else None  # a fine-tuned run prepared its corpus with the tokenizer it kept
    recorded = run.config["corpus_sha256"]
    path = corpus_file(run, data) if data or corpus_path(run).exists() else None
    found = pipeline.from_cache(pipeline.entry_path(cfg, recorded, kept), recorded)
    if found is None:
        if path is None or not build:
            return None
        found = pipeline.prepare_corpus(replace(cfg, data=str(path)), kept)
    prepared = found[0]
    if list(prepared.split.side(side)) != indices:
        raise UserError(f"the {side} split in {run.path / 'split.json'} is not the one its corpus and settings give; retrain the run")
    return prepared.held_out[side]


def split_indices(run: Run, side: str) -> list[int]:
    split = read_json(run.path / "split.json") if (run.path / "split.json").is_file() else {}
    if side not in split:
        raise UserError(f"{run.path} records no document split (trained with --split windows?); use a run with the grouped split")
    return split[side]


def split_tokens(run: Run, side: str, text_column: str | None = None, data: str | None = None,
                 indices: list[int] | None = None, build: bool = True) -> list[list[str]]:
    """Tokens of each document of one side of the run's split, in split order: a held-out side
    from the prepared-corpus cache where it can (``cached_tokens``), else from the corpus file.
    ``indices``: the side's document indices, read from the run if not given. ``build`` False:
    a missing cache entry is not built (seconds: the whole corpus grouped), the few documents
    are read from the corpus file instead."""
    if indices is None:
        indices = split_indices(run, side)  # read once, for the cache and the corpus file alike
    cached = cached_tokens(run, side, data, text_column, indices, build) if side != "train" else None
    if cached is not None:
        return cached
    texts = corpus_texts(run, data, text_column)
    return [run.tokenizer.text_to_tokens(texts[i]) for i in indices]


def split_windows(run: Run, side: str, data: str | None = None, text_column: str | None = None):
    """The full-context windows of one side of the run's split, with spelling log-probabilities
    where the run has an open vocabulary (``evaluate.full_context``'s input)."""
    return token_windows(run, split_tokens(run, side, text_column, data))


def token_windows(run: Run, tokens: list[list[str]]):
    """The windows of documents given as tokens, encoded by the run's tokenizer."""
    from .windows import Windows

    ids = [np.asarray(run.tokenizer.document_ids(doc), np.int32) for doc in tokens]
    spelling = [run.tokenizer.spelling_logprobs(doc) for doc in tokens] if run.tokenizer.open_vocab is not None else None
    return Windows.from_docs(ids, run.config["window"], spelling)


def file_tokens(run: Run, path: str, text_column: str | None = None) -> list[list[str]]:
    """Tokens of every document of a corpus file, by the run's tokenizer."""
    return [run.tokenizer.text_to_tokens(text) for text in corpus.read_texts(path, text_column)]
