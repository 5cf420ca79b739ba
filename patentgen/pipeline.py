"""Data preparation: corpus file -> tokens -> split -> tokenizer -> encoded windows per side.

Owns the order of the data stages, so training, evaluation, benchmarks and the game prepare
text identically, and whether a prepared corpus comes from the cache (``prepcache``) or is
built. Pure: returns values, prints nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import corpus, openvocab, prepcache
from .config import TrainConfig
from .errors import UserError
from .split import SIDES, Split, grouped_split
from .tokenizer import Tokenizer
from .windows import Windows, windows_split


@dataclass(frozen=True)
class Prepared:
    documents: int  # documents read from the corpus
    split: Split | None  # None for the published windows protocol
    tokenizer: Tokenizer
    windows: dict[str, Windows]  # "train", "val", "test" (test is val under --split windows)
    corpus_sha256: str | None = None  # the corpus checksum, where the corpus was read from a file (prepare_corpus)
    # "val", "test": each document's tokens, in split order (a dict, or prepcache.HeldOut reading them from the entry); None: no split
    held_out: dict[str, list[list[str]]] | prepcache.HeldOut | None = None

    def summary(self) -> dict:
        if self.split is None:
            return {side: {"windows": len(w.starts), "chunks": len(w.chunks)} for side, w in self.windows.items()}
        return self.split.summary()


def lowercase(cfg: TrainConfig) -> bool:
    """Whether text is lowercased: asked for, or forced by GloVe, whose vocabulary is lowercase."""
    return cfg.lower or cfg.embeddings == "glove"


def _encode(tokenizer: Tokenizer, doc: list[str]) -> np.ndarray:
    return np.asarray(tokenizer.document_ids(doc), np.int32)


class Laps:
    """Seconds per stage: ``laps(name)`` ends the stage that began at the previous call.
    ``progress(stage, done, total)``, if given, hears how far the long stages are."""

    def __init__(self, progress=None):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()
        self.progress = progress or (lambda stage, done, total: None)

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now


def prepare(cfg: TrainConfig, texts: list[str], tokenizer: Tokenizer | None = None, laps: Laps | None = None) -> Prepared:
    """Split, fit the tokenizer on the training side (or keep ``tokenizer``: fine-tuning keeps
    the vocabulary and text rules of the run it starts from), encode and cut windows; ``laps``
    gets the time of each stage (clean+tokenise, group+split, vocabulary, encode+windows)."""
    lap = laps or (lambda name: None)
    tick = laps.progress if laps else (lambda stage, done, total: None)
    lower = lowercase(cfg) if tokenizer is None else tokenizer.lower
    state = corpus.fit_state(cfg.corpus, texts) if tokenizer is None else tokenizer.state
    tokens = []
    for n, text in enumerate(texts, 1):
        tokens.append(corpus.text_tokens(text, cfg.corpus, lower, state))
        if n % 1000 == 0 or n == len(texts):
            tick("cleaning and tokenising", n, len(texts))
    lap("clean+tokenise")
    if sum(len(doc) for doc in tokens) <= cfg.window:
        raise UserError(
            f"the corpus has {sum(len(d) for d in tokens)} tokens, fewer than one {cfg.window}-word window; "
            "give it more text or a smaller --window"
        )
    if cfg.split == "windows":
        if tokenizer is None:
            tokenizer = Tokenizer.fit(tokens, cfg.corpus, lower, cfg.min_count, cfg.max_vocab, state)
            tokenizer = openvocab.attach(tokenizer, tokens, tokens, cfg.window)  # the leaky protocol: no held-out text
        encoded = [_encode(tokenizer, doc) for doc in tokens]
        # Spellings for the open-vocabulary score, from the open vocabulary fitted above on every
        # document: this protocol holds no text out (each word of a validation window also sits
        # in training windows), so the open CE is optimistic exactly as the closed CE is, and
        # compares only with other --split windows rows. A fine-tuned run without one has none.
        spelling = [tokenizer.spelling_logprobs(doc) for doc in tokens] if tokenizer.open_vocab is not None else None
        train, val, test = windows_split(encoded, cfg.window, cfg.split_seed, spelling=spelling)
        return Prepared(len(texts), None, tokenizer, {"train": train, "val": val, "test": test})
    fractions = (1.0 - cfg.val_share - cfg.test_share, cfg.val_share, cfg.test_share)
    split = grouped_split(tokens, fractions, cfg.split_seed)
    lap("group+split")
    if tokenizer is None:  # a fine-tuned run (--init-from) keeps its tokenizer and open vocabulary
        tokenizer = Tokenizer.fit((tokens[i] for i in split.train), cfg.corpus, lower, cfg.min_count, cfg.max_vocab, state)
        tokenizer = openvocab.attach(tokenizer, [tokens[i] for i in split.train], [tokens[i] for i in split.side("val")], cfg.window)
    lap("vocabulary")
    windows, done, total = {}, 0, sum(len(split.side(side)) for side in SIDES)
    for side in SIDES:
        docs = [tokens[i] for i in split.side(side)]
        spelling = [tokenizer.spelling_logprobs(doc) for doc in docs] if side != "train" else None
        windows[side] = Windows.from_docs([_encode(tokenizer, doc) for doc in docs], cfg.window, spelling)
        done += len(docs)
        tick("encoding and cutting windows", done, total)
    lap("encode+windows")
    empty = [side for side in SIDES if windows[side].targets(cfg.arch) == 0 or not len(windows[side].starts)]
    if empty:
        longest = max(len(doc) for doc in tokens)
        raise UserError(
            f"too little text: the {' and '.join(empty)} side has no {cfg.window}-word window ({len(tokens)} documents, "
            f"the longest {longest} words; a .txt corpus is one document a line); give the corpus more or longer documents "
            "or a smaller --window"
        )
    held_out = {side: [tokens[i] for i in split.side(side)] for side in SIDES[1:]}
    return Prepared(len(texts), split, tokenizer, windows, held_out=held_out)


def entry_path(cfg: TrainConfig, checksum: str, tokenizer: Tokenizer | None = None) -> Path:
    """The cache entry of ``cfg`` on the corpus with ``checksum`` (``tokenizer``: one kept from
    the run fine-tuned from), whether or not it exists."""
    lower = lowercase(cfg) if tokenizer is None else tokenizer.lower
    return prepcache.entries_dir() / prepcache.key(cfg, checksum, lower, tokenizer)


def from_cache(entry: Path, checksum: str) -> tuple[Prepared, list[str]] | None:
    """The prepared corpus in a sound cache entry, and the notes of reading its corpus; None if
    the entry is missing or damaged."""
    loaded = prepcache.load(entry) if entry.is_dir() else None
    if loaded is None:
        return None
    documents, split, kept, windows, notes, held_out = loaded
    return Prepared(documents, split, kept, windows, checksum, held_out), notes


def prepare_corpus(cfg: TrainConfig, tokenizer: Tokenizer | None = None, use_cache: bool = True,
                   wait_seconds: float = 0.0, laps: Laps | None = None) -> tuple[Prepared, list[str], str]:
    """The prepared corpus of ``cfg.data``: from the cache when a sound entry has it, else read,
    prepared and (with ``use_cache``) stored. Returns it, the notes of reading the corpus (bad
    rows), and where it came from: "cache", "built" or "rebuilt" (the entry was damaged).
    ``wait_seconds``: how long to wait for another process (worker 0 of a multi-worker run) to
    write the entry before preparing the corpus here. ``laps`` gets the time of each stage."""
    lap = laps or (lambda name: None)
    corpus.corpus_files(cfg.data)  # a missing corpus is a one-line error before anything else
    checksum = corpus.file_checksum(cfg.data)  # read once: the cache key and the run's config.json
    entry = entry_path(cfg, checksum, tokenizer)
    lap("checksum")
    deadline = time.monotonic() + wait_seconds
    while use_cache and not entry.is_dir() and time.monotonic() < deadline:
        time.sleep(0.5)
    damaged = use_cache and entry.is_dir()
    found = from_cache(entry, checksum) if use_cache else None
    if found is not None:
        lap("cache read")
        return (*found, "cache")
    notes: list[str] = []
    texts = corpus.read_texts(cfg.data, cfg.text_column, report=notes.append)
    lap("read")
    prepared = replace(prepare(cfg, texts, tokenizer, laps), corpus_sha256=checksum)
    del texts
    if use_cache:
        prepcache.store(entry.parent, entry.name, prepared, cfg.window, notes)
        if prepared.held_out is not None:  # read again only if asked for: training does not hold the token lists
            prepared = replace(prepared, held_out=prepcache.HeldOut(entry, tuple(prepared.held_out)))
        lap("cache write")
    return prepared, notes, "rebuilt" if damaged else "built"
