"""The prepared-corpus cache: a corpus cleaned, tokenised, split and encoded once, kept on disk.

Owns the cache's location, its keys and its entries. An entry is a folder named by a key that
covers everything that shapes the prepared corpus: the corpus checksum, the settings that shape
it (text column, corpus kind, case, split, shares, seed, vocabulary rule, window, a kept
tokenizer), and the source of the modules that compute it, so that changed code never reads an
old entry. It holds the tokenizer, the split (with its groups) and each side's window arrays as
``.npy`` files, memory-mapped when read, the held-out sides' documents as tokens (for the game,
``generate.py --random`` and evaluation; read only when asked for), and ``meta.json`` with every
file's size and SHA-256: an entry that does not match them is damaged, and is removed and
rebuilt, never trusted.
Entries are written into a hidden temporary folder and renamed into place whole.

Location: ``$PATENTGEN_CACHE``, else ``$XDG_CACHE_HOME/patentgen``, else ``~/.cache/patentgen``;
entries under ``prepared/``. ``train.py --no-cache`` neither reads nor writes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .corpus import sha256_file
from .errors import UserError
from .split import Split
from .tokenizer import Tokenizer
from .windows import Windows

FORMAT = 2
CACHE_ENV = "PATENTGEN_CACHE"
ARRAYS = ("flat", "starts", "chunks", "spelling")
# The modules whose code shapes a prepared corpus: a change to any of them changes every key.
SHAPING = ("corpus.py", "split.py", "arrays.py", "tokenizer.py", "openvocab.py", "windows.py", "pipeline.py", "prepcache.py")
# The TrainConfig fields that shape it (with the corpus checksum, the effective case and a kept tokenizer).
SETTINGS = ("text_column", "corpus", "split", "split_seed", "val_share", "test_share", "min_count", "max_vocab", "window")


def cache_dir() -> Path:
    """Where prepared corpora are kept."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "patentgen"


def entries_dir() -> Path:
    """The folder holding one folder per prepared corpus."""
    return cache_dir() / "prepared"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_version() -> str:
    """SHA-256 of the source of the modules that shape a prepared corpus."""
    here = Path(__file__).parent
    return _sha256_bytes(b"".join((here / name).read_bytes() for name in SHAPING))


def key(cfg, checksum: str, lower: bool, tokenizer: Tokenizer | None) -> str:
    """The entry name for ``cfg`` on the corpus with ``checksum``."""
    shaped = {
        "format": FORMAT, "code": code_version(), "corpus_sha256": checksum, "lower": lower,
        "settings": {name: getattr(cfg, name) for name in SETTINGS},
        "tokenizer": _sha256_bytes(json.dumps(tokenizer.to_json(), sort_keys=True).encode()) if tokenizer else None,
    }
    return _sha256_bytes(json.dumps(shaped, sort_keys=True).encode())[:40]


def _save_windows(folder: Path, side: str, windows: Windows) -> None:
    for name in ARRAYS:
        array = getattr(windows, name)
        if array is not None:
            np.save(folder / f"{side}.{name}.npy", np.ascontiguousarray(array))


def _load_windows(folder: Path, side: str, window: int) -> Windows:
    arrays = {name: np.load(folder / f"{side}.{name}.npy", mmap_mode="r") if (folder / f"{side}.{name}.npy").is_file() else None
              for name in ARRAYS}
    return Windows(arrays["flat"], arrays["starts"], arrays["chunks"], window, arrays["spelling"])


def _save_tokens(folder: Path, side: str, docs: list[list[str]]) -> None:
    """A side's documents as tokens: its distinct words (JSON), every token as an index into them
    and each document's offset (.npy)."""
    words = sorted({word for doc in docs for word in doc})
    index = {word: i for i, word in enumerate(words)}
    lengths = np.fromiter(map(len, docs), np.int64, len(docs))
    tokens = np.fromiter((index[word] for doc in docs for word in doc), np.int32, int(lengths.sum()))
    (folder / f"{side}.words.json").write_text(json.dumps(words), encoding="utf-8")
    np.save(folder / f"{side}.tokens.npy", tokens)
    np.save(folder / f"{side}.offsets.npy", np.concatenate([[0], np.cumsum(lengths)]))


class HeldOut:
    """The held-out sides' documents as tokens, read from an entry when first asked for:
    ``held_out["test"]`` is a list of token lists in split order."""

    def __init__(self, folder: Path, sides: tuple[str, ...]):
        self.folder, self.sides, self._read = folder, sides, {}

    def __contains__(self, side: str) -> bool:
        return side in self.sides

    def __getitem__(self, side: str) -> list[list[str]]:
        if side not in self.sides:
            raise KeyError(side)
        if side not in self._read:
            words = json.loads((self.folder / f"{side}.words.json").read_text(encoding="utf-8"))
            tokens = np.load(self.folder / f"{side}.tokens.npy")
            offsets = np.load(self.folder / f"{side}.offsets.npy")
            spelled = [words[i] for i in tokens.tolist()]
            self._read[side] = [spelled[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
        return self._read[side]


def store(root: Path, name: str, prepared, window: int, notes: list[str]) -> Path:
    """Write an entry for a ``pipeline.Prepared`` (atomically: a temporary folder renamed into
    place); its path."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    temp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    windows, split = prepared.windows, prepared.split
    try:
        prepared.tokenizer.save(temp / "tokenizer.json")
        sides = sorted(windows)
        for side in sides:
            _save_windows(temp, side, windows[side])
        held_out = sorted(prepared.held_out) if prepared.held_out else []
        for side in held_out:
            _save_tokens(temp, side, prepared.held_out[side])
        split_json = {**split.to_json(), "groups": list(split.groups)} if split else None
        (temp / "split.json").write_text(json.dumps(split_json), encoding="utf-8")
        files = {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in sorted(temp.iterdir())}
        meta = {"format": FORMAT, "documents": prepared.documents, "window": window, "sides": sides, "held_out": held_out,
                "notes": notes, "files": files}
        (temp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)  # a damaged entry, or one another process just wrote
        os.replace(temp, final)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return final


def check(folder: Path) -> dict | None:
    """The entry's meta.json if every file it lists is there with its size and SHA-256, else None."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        for name, want in meta["files"].items():
            path = folder / name
            if path.stat().st_size != want["size"] or sha256_file(path) != want["sha256"]:
                return None
        return meta if meta.get("format") == FORMAT else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load(folder: Path) -> tuple[int, Split | None, Tokenizer, dict[str, Windows], list[str], HeldOut | None] | None:
    """(documents, split, tokenizer, windows by side, notes from reading the corpus, the held-out
    sides' tokens) of a sound entry; None if it is damaged."""
    meta = check(folder)
    if meta is None:
        return None
    try:
        tokenizer = Tokenizer.load(folder / "tokenizer.json")
        split_json = json.loads((folder / "split.json").read_text(encoding="utf-8"))
        split = Split(*(tuple(split_json[k]) for k in ("train", "val", "test", "groups"))) if split_json else None
        windows = {side: _load_windows(folder, side, meta["window"]) for side in meta["sides"]}
        held_out = HeldOut(folder, tuple(meta["held_out"])) if meta["held_out"] else None
        return meta["documents"], split, tokenizer, windows, list(meta["notes"]), held_out
    except (OSError, ValueError, KeyError, TypeError, UserError):  # any unreadable part: rebuild
        return None
