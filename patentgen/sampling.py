"""Sampling stage: pure functions over logits, the shared decode loop, and text scoring.

Owns how a next word is chosen (temperature, then top-k / top-p, then a draw from an explicit
``numpy.random.Generator``; temperature 0 is greedy) and the loop that asks any model for
``next_logits(ids, state) -> (logits, state)``: the Keras-trained LSTM through
``inference.NumpyLM``, the numpy RNN, or a test stub.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .inference import log_softmax
from .tokenizer import NEVER_EMITTED

NextLogits = Callable[[Sequence[int], object], tuple[np.ndarray, object]]


def ban(logits: np.ndarray, banned: Sequence[int] = NEVER_EMITTED) -> np.ndarray:
    """A copy of ``logits`` with the banned ids at -inf."""
    out = np.array(logits, dtype=np.float64)
    out[list(banned)] = -np.inf
    return out


def top_k_filter(logits: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` highest logits (ties at the border kept), the rest -inf."""
    if k >= logits.shape[-1]:
        return logits
    border = np.partition(logits, -k)[-k]
    return np.where(logits >= border, logits, -np.inf)


def top_p_filter(logits: np.ndarray, p: float) -> np.ndarray:
    """Keep the smallest set of most likely words whose probability reaches ``p``."""
    order = np.argsort(-logits)
    probs = np.exp(log_softmax(logits[order]))
    keep = int(np.searchsorted(np.cumsum(probs), p)) + 1  # words needed to reach p
    out = np.full_like(logits, -np.inf)
    out[order[:keep]] = logits[order[:keep]]
    return out


def choose(
    logits: np.ndarray,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    banned: Sequence[int] = NEVER_EMITTED,
) -> int:
    """One next-word id: banned ids removed, temperature, top-k, top-p, then a draw."""
    logits = ban(logits, banned)
    if temperature == 0:
        return int(np.argmax(logits))
    logits = logits / temperature
    if top_k:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1:
        logits = top_p_filter(logits, top_p)
    probs = np.exp(log_softmax(logits))
    return int(rng.choice(len(probs), p=probs / probs.sum()))


def generate(
    next_logits: NextLogits,
    seed_ids: Sequence[int],
    n_words: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    banned: Sequence[int] = NEVER_EMITTED,
    stop_ids: Sequence[int] = (),
) -> list[int]:
    """Continue ``seed_ids`` (fed once) by up to ``n_words`` ids, one model step per word."""
    if n_words <= 0:
        return []
    logits, state = next_logits(list(seed_ids), None)
    out: list[int] = []
    while True:
        word = choose(logits, rng, temperature, top_k, top_p, banned)
        out.append(word)
        if len(out) == n_words or word in stop_ids:
            return out
        logits, state = next_logits([word], state)


@dataclass(frozen=True)
class Score:
    """Log-probability of each word of a text given the words before it."""

    words: list[str]
    logprobs: list[float]  # natural log, one per word

    @property
    def total(self) -> float:
        return float(sum(self.logprobs))

    @property
    def perplexity(self) -> float:
        return math.exp(-self.total / len(self.logprobs)) if self.logprobs else float("nan")

    def to_json(self) -> dict:
        return {
            "words": [{"word": w, "logprob": round(p, 4)} for w, p in zip(self.words, self.logprobs)],
            "total_logprob": round(self.total, 4),
            "perplexity": round(self.perplexity, 3),
        }


def score(next_logits: NextLogits, context_ids: Sequence[int], ids: Sequence[int], words: Sequence[str]) -> Score:
    """Per-word log-probabilities of ``ids`` after ``context_ids`` (e.g. ``[<s>]``)."""
    logits, state = next_logits(list(context_ids), None)
    logprobs = []
    for word_id in ids:
        logprobs.append(float(log_softmax(np.asarray(logits, np.float64))[word_id]))
        logits, state = next_logits([word_id], state)
    return Score(list(words), logprobs)
