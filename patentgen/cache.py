"""Cache stage: the network's next-word distribution mixed with what its own context already says.

Owns the *cached model*, a count form of Grave et al.'s neural cache (2017): patent abstracts
repeat their terms and phrases ("the neural network ... the neural network") more than a small
LSTM predicts from its state, and the words of the 50-word context say so directly. Two caches,
both seeing only that context (the same words the network sees, so the evaluation stays fair):

* a word cache (``sampling.WordCache``): share ``word * n / (n + 10)`` of the probability goes to
  the context's rarer words (the 50 most frequent never), in proportion to their counts;
* a phrase cache (``sampling.PhraseCache``): where the context's last two words occurred before
  in it, share ``phrase`` goes to the words that followed them there.

``P = (1 - a) * ((1 - b) * P_net + b * P_words) + a * P_phrase``, ``a`` and ``b`` as above where
their cache has something, else 0. The two weights are fitted on validation text by maximum
likelihood (``fit``), stored in the run folder's ``config.json`` as ``"caches"``, and used by
the evaluation, ``--score``, ``/api/score`` and ``patentgen.load().score``. Generation takes its
caches from the sampler description (``--phrase-cache``, ``--word-cache``). ``train.py`` fits
them after training (``patentgen-evaluate --save`` for a run trained with ``--no-eval``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .inference import log_softmax, window_logits
from .sampling import PhraseCache, WordCache, words_of

PHRASE_GRID = np.round(np.arange(0.0, 0.8, 0.025), 3)
WORD_GRID = np.round(np.arange(0.0, 0.6, 0.025), 3)


@dataclass(frozen=True)
class Caches:
    """The two mixture weights; zero weights give the network alone."""

    phrase: float = 0.0
    word: float = 0.0

    def mix(self, probs: np.ndarray, history: Sequence[int]) -> np.ndarray:
        """probs (V,) of the network after ``history`` (the context's ids, no ``<s>``) -> (V,)."""
        return PhraseCache(self.phrase).mix(WordCache(self.word).mix(probs, history), history)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Caches":
        return cls(float(data["phrase"]), float(data["word"]))

    def __bool__(self) -> bool:
        return bool(self.phrase or self.word)


class CachedLM:
    """A network (``last_logits(ids (B, T))``) with its caches over each window's own words;
    ``evaluate.full_context`` scores it as it scores the network."""

    def __init__(self, lm, caches: Caches):
        self.lm, self.caches, self.arch = lm, caches, lm.arch

    @property
    def vocab_size(self) -> int:
        return self.lm.vocab_size

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, T) -> log-probabilities (B, V) of the word after each window."""
        return self.mix_logits(self.lm.last_logits(ids), ids)

    def mix_logits(self, logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The network's logits (B, V) after windows ids (B, T) -> the mixture's log-probabilities."""
        probs = np.exp(log_softmax(np.asarray(logits, np.float64)))
        for row, context in enumerate(ids):
            probs[row] = self.caches.mix(probs[row], words_of(context))
        return np.log(probs)


@dataclass(frozen=True)
class Features:
    """Per target: the network's probability, each cache's share of the target, and whether
    (phrase) or how much (word: the ramp's factor) the cache holds anything."""

    p_net: np.ndarray
    p_phrase: np.ndarray
    has_phrase: np.ndarray
    p_words: np.ndarray
    word_factor: np.ndarray

    @classmethod
    def concat(cls, parts: Sequence["Features"]) -> "Features":
        """The features of several blocks of windows, in order."""
        names = ("p_net", "p_phrase", "has_phrase", "p_words", "word_factor")
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) if parts else np.zeros(0) for n in names))

    def loglik(self, phrase: float, word: float) -> float:
        """Mean log-likelihood per target of the mixture with these weights."""
        a, b = np.where(self.has_phrase, phrase, 0.0), word * self.word_factor
        return float(np.mean(np.log((1 - a) * ((1 - b) * self.p_net + b * self.p_words) + a * self.p_phrase)))


def held(history: Sequence[int]) -> tuple[list[int], list[int]]:
    """What the two caches hold after ``history`` whatever their weights: the phrase cache's
    followers and the word cache's words (with repeats). ``Caches.mix`` with non-zero weights
    spreads its shares over exactly these; ``features`` and ``Held`` read them from here."""
    phrases, words = PhraseCache(1.0), WordCache(1.0)
    return (phrases.followers(history) if len(history) > phrases.context else []), words.cached(history)


def features(p_net: np.ndarray, histories: Sequence[Sequence[int]], targets: Sequence[int]) -> Features:
    """``p_net`` (N,): the network's probability of each target after its history. Only each
    target's share is counted, not whole distributions, so fitting is quick."""
    p_phrase, has_phrase, p_words, factor = (np.zeros(len(targets)) for _ in range(4))
    for n, (past, target) in enumerate(zip(histories, targets)):
        followers, cached = held(past)
        if followers:
            has_phrase[n], p_phrase[n] = 1.0, followers.count(target) / len(followers)
        if cached:
            factor[n], p_words[n] = WordCache(1.0).factor(len(cached)), cached.count(target) / len(cached)
    return Features(np.asarray(p_net, np.float64), p_phrase, has_phrase.astype(bool), p_words, factor)


@dataclass(frozen=True)
class Held:
    """What the caches hold after each of B windows, weight-free, as flat arrays of M entries:
    per window the distinct ids either cache holds, and its target (first). With the network's
    probability of each entry, the mixture of any weights is known exactly at every id that
    differs from the network scaled (``mixed``), which is all a rank needs (``evaluate``)."""

    rows: np.ndarray  # (M,) int64: the window of each entry
    ids: np.ndarray  # (M,) int64
    is_target: np.ndarray  # (M,) bool: the window's target (one entry per window)
    word_share: np.ndarray  # (M,) float64: the id's share of the word cache's words (0 if none)
    phrase_share: np.ndarray  # (M,) float64: the id's share of the phrase cache's followers
    word_factor: np.ndarray  # (B,) float64: WordCache.factor of its words, 0 where it holds none
    has_phrase: np.ndarray  # (B,) bool

    @classmethod
    def of(cls, contexts: np.ndarray, targets: np.ndarray) -> "Held":
        """contexts (B, T) ids, targets (B,)."""
        rows, ids, word_share, phrase_share = [], [], [], []
        factor, has_phrase = np.zeros(len(targets)), np.zeros(len(targets), bool)
        for row, (context, target) in enumerate(zip(contexts.tolist(), targets.tolist())):
            followers, cached = held(words_of(context))
            entries = {target: [0.0, 0.0]}  # id -> [word share, phrase share]; the target first
            for words, slot in ((cached, 0), (followers, 1)):
                for word, count in Counter(words).items():
                    entries.setdefault(word, [0.0, 0.0])[slot] = count / len(words)
            if cached:
                factor[row] = WordCache(1.0).factor(len(cached))
            has_phrase[row] = bool(followers)
            rows += [row] * len(entries)
            ids += entries
            for shares in entries.values():
                word_share.append(shares[0])
                phrase_share.append(shares[1])
        rows = np.asarray(rows, np.int64)
        first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, bool)
        return cls(rows, np.asarray(ids, np.int64), first, np.asarray(word_share), np.asarray(phrase_share), factor, has_phrase)

    def features(self, p_entries: np.ndarray) -> Features:
        """``features`` of the windows, from the network's probability of each entry (M,)."""
        t = self.is_target
        return Features(p_entries[t], self.phrase_share[t], self.has_phrase, self.word_share[t], self.word_factor)

    def weights(self, caches: "Caches") -> tuple[np.ndarray, np.ndarray]:
        """Per window, the phrase and word cache's share of the mixture (a, b): 0 where empty."""
        return np.where(self.has_phrase, caches.phrase, 0.0), caches.word * self.word_factor

    def mixed(self, p_entries: np.ndarray, caches: "Caches") -> np.ndarray:
        """The mixture's probability of each entry (M,), in ``Caches.mix``'s order of operations."""
        a, b = (w[self.rows] for w in self.weights(caches))
        return (1 - a) * ((1 - b) * p_entries + b * self.word_share) + a * self.phrase_share


def window_features(lm, flat: np.ndarray, starts: np.ndarray, window: int, batch: int = 256) -> Features:
    """Features of every full-context window ``flat[s : s + window] -> flat[s + window]``."""
    offsets = np.arange(window)
    p_net, histories, targets = [], [], []
    for i in range(0, len(starts), batch):
        part = starts[i : i + batch]
        contexts, goal = flat[part[:, None] + offsets], flat[part + window]
        logp = log_softmax(np.asarray(window_logits(lm, flat, part, window), np.float64))
        p_net.append(np.exp(logp[np.arange(len(goal)), goal]))
        histories += [words_of(c) for c in contexts]
        targets += [int(t) for t in goal]
    return features(np.concatenate(p_net) if p_net else np.zeros(0), histories, targets)


def fit(found: Features, phrase_grid=PHRASE_GRID, word_grid=WORD_GRID) -> tuple[Caches, float, float]:
    """The weights on a grid (steps of 0.025) that maximise the likelihood of ``found``: (caches,
    log-likelihood per target with them, without any)."""
    best = max((found.loglik(a, b), round(float(a), 3), round(float(b), 3)) for a in phrase_grid for b in word_grid)
    return Caches(float(best[1]), float(best[2])), best[0], found.loglik(0.0, 0.0)


def fit_windows(lm, windows) -> tuple[Caches, float, float]:
    """``fit`` on every full-context window of ``windows`` (a ``windows.Windows``: validation text);
    ``evaluate.evaluate_split(..., fit_caches=True)`` fits the same weights while it scores them."""
    return fit(window_features(lm, windows.flat, windows.starts, windows.window))

