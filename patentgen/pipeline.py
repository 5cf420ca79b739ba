"""Data preparation: corpus file -> tokens -> split -> tokenizer -> encoded windows per side.

Owns the order of the data stages, so training, evaluation, benchmarks and the game prepare
text identically. Pure: returns values, prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import corpus, openvocab
from .config import TrainConfig
from .errors import UserError
from .split import SIDES, Split, grouped_split
from .tokenizer import Tokenizer
from .windows import Windows, windows_split


@dataclass(frozen=True)
class Prepared:
    texts: list[str]
    tokens: list[list[str]]  # each document's tokens
    split: Split | None  # None for the published windows protocol
    tokenizer: Tokenizer
    windows: dict[str, Windows]  # "train", "val", "test" (test is val under --split windows)

    def summary(self) -> dict:
        if self.split is None:
            return {side: {"windows": len(w.starts), "chunks": len(w.chunks)} for side, w in self.windows.items()}
        return self.split.summary()


def lowercase(cfg: TrainConfig) -> bool:
    """Whether text is lowercased: asked for, or forced by GloVe, whose vocabulary is lowercase."""
    return cfg.lower or cfg.embeddings == "glove"


def _encode(tokenizer: Tokenizer, doc: list[str]) -> np.ndarray:
    return np.asarray(tokenizer.document_ids(doc), np.int32)


def prepare(cfg: TrainConfig, texts: list[str], tokenizer: Tokenizer | None = None) -> Prepared:
    """Split, fit the tokenizer on the training side (or keep ``tokenizer``: fine-tuning keeps
    the vocabulary and text rules of the run it starts from), encode and cut windows."""
    lower = lowercase(cfg) if tokenizer is None else tokenizer.lower
    state = corpus.fit_state(cfg.corpus, texts) if tokenizer is None else tokenizer.state
    tokens = [corpus.text_tokens(text, cfg.corpus, lower, state) for text in texts]
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
        train, val = windows_split(encoded, cfg.window, cfg.split_seed, spelling=spelling)
        return Prepared(texts, tokens, None, tokenizer, {"train": train, "val": val, "test": val})
    fractions = (1.0 - cfg.val_share - cfg.test_share, cfg.val_share, cfg.test_share)
    split = grouped_split(tokens, fractions, cfg.split_seed)
    if tokenizer is None:  # a fine-tuned run (--init-from) keeps its tokenizer and open vocabulary
        tokenizer = Tokenizer.fit((tokens[i] for i in split.train), cfg.corpus, lower, cfg.min_count, cfg.max_vocab, state)
        tokenizer = openvocab.attach(tokenizer, [tokens[i] for i in split.train], [tokens[i] for i in split.side("val")], cfg.window)
    windows = {}
    for side in SIDES:
        docs = [tokens[i] for i in split.side(side)]
        spelling = [tokenizer.spelling_logprobs(doc) for doc in docs] if side != "train" else None
        windows[side] = Windows.from_docs([_encode(tokenizer, doc) for doc in docs], cfg.window, spelling)
    empty = [side for side in SIDES if windows[side].targets(cfg.arch) == 0 or not len(windows[side].starts)]
    if empty:
        raise UserError(
            f"too little text: the {' and '.join(empty)} side has no {cfg.window}-word window; "
            "give the corpus more documents or a smaller --window"
        )
    return Prepared(texts, tokens, split, tokenizer, windows)
