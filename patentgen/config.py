"""Configuration: every training setting in one frozen dataclass, with its default visible here.

``train.py`` builds its flags from these fields' defaults; a run folder's ``config.json`` holds
``asdict(TrainConfig)`` so a run can be repeated exactly.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
# Run from a clone (or an editable install of one), ROOT is the checkout; from an installed wheel
# it is site-packages, and the shipped model is package data inside PACKAGE.
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "train.py").is_file()
PATENTS_FILE = "neural_network_patent_query.csv"
DATA_ENV = "PATENTGEN_DATA"  # a folder holding corpus files, searched first
DEFAULT_MODEL_DIR = (ROOT if CHECKOUT else PACKAGE) / "models" / "default"

ARCHES = ("lstm", "classic", "numpy-rnn")
EMBEDDINGS = ("glove", "learned")
SPLITS = ("grouped", "windows")
# Settings that may change when an interrupted run is resumed (the hardware, the time budget).
RESUMABLE_CHANGES = ("strategy", "max_minutes")


# Defaults that depend on the architecture or the corpus kind (applied where a flag is not given).
ARCH_DEFAULTS = {
    "lstm": {"units": 256, "learning_rate": 3e-3},
    "classic": {"units": 64, "learning_rate": 3e-3},
    "numpy-rnn": {"units": 100, "learning_rate": 0.005},
}
CORPUS_DEFAULTS = {
    "patents": {"min_count": 2, "max_vocab": None, "text_column": None},
    "reddit": {"min_count": 1, "max_vocab": 8000, "text_column": "body"},  # the tutorial's settings
}


GAME_SEED_WORDS = 50  # words of a real abstract shown as a game round's seed
# Sampler descriptions (patentgen.sampling.from_description). generate.py's and the web page's
# default is the one bench/SHORT_SEEDS.md chooses by its rule (the hardest for the trained judge of
# bench/GENERATION.md among those that repeat no more than people do, from long and short seeds);
# the game's sampler and the band each round's diversity (temperature) is drawn from were chosen
# with bench/GAME_JUDGES.md.
DEFAULT_SAMPLER = {"temperature": 1.0, "phrase_cache": 0.3, "word_cache": 0.1}
GAME_SAMPLER = {"phrase_cache": 0.35, "word_cache": 0.15}
GAME_BAND = (0.85, 0.95)


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


@dataclass(frozen=True)
class TrainConfig:
    # data and split
    data: str = ""  # empty: default_data()
    text_column: str | None = None
    corpus: str = "patents"
    split: str = "grouped"
    split_seed: int = 0
    val_share: float = 0.1
    test_share: float = 0.1
    # vocabulary
    lower: bool = True
    min_count: int = 2
    max_vocab: int | None = None
    window: int = 50
    # model
    arch: str = "lstm"
    embeddings: str = "glove"
    glove_file: str | None = None
    embedding_dim: int = 50
    freeze_embeddings: bool = False
    layers: int = 1
    units: int = 256
    dropout: float = 0.4
    tie_embeddings: bool = True
    # training
    batch_size: int = 64
    learning_rate: float = 3e-3
    epochs: int = 40
    patience: int = 5
    lr_factor: float = 0.5  # multiply the learning rate by this when validation loss stalls; 1 = never
    lr_patience: int = 1
    max_minutes: float = 15.0
    seed: int = 0
    # devices
    strategy: str = "default"  # default | mirrored | multiworker (tf.distribute); batch_size stays global
    mixed_precision: bool = False  # mixed_float16 compute, float32 variables and logits
    # fine-tuning
    init_from: str | None = None  # run folder whose weights, vocabulary and architecture are kept

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
