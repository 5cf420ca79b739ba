"""Count-based baselines: an add-one unigram model and interpolated (modified) Kneser-Ney n-grams.

Owns the peers the neural models are ranked against. Both expose ``last_logits(ids (B, T))``
(log-probabilities over the whole vocabulary), so ``evaluate.full_context`` scores them exactly
as it scores the networks, with the same tokenizer, split and targets.

Kneser-Ney (Chen & Goodman's interpolated form, one absolute discount per order,
``D = n1 / (n1 + 2 n2)``): the highest order uses raw counts, lower orders continuation counts
(how many different words precede an n-gram), and the unigram level is interpolated with the
uniform distribution. *Modified* Kneser-Ney (Chen & Goodman 1998, section 3.5; ``modified=True``)
gives each order three discounts, for n-grams seen once, twice, and three or more times, from
that order's count-of-counts n1..n4: ``Y = n1 / (n1 + 2 n2)``, ``D1 = 1 - 2Y n2/n1``,
``D2 = 2 - 3Y n3/n2``, ``D3+ = 3 - 4Y n4/n3``; a context's mass for the lower order is the sum
of the discounts of the words seen after it, over its total count.

Counting and scoring are numpy arrays, not dicts, so a corpus of ~13M tokens fits a few GB; the
sorts and lookups go through ``arrays``, which keeps their memory access cheap as it grows. An
n-gram is one int64 key built from the rank of a shorter one among the distinct shorter ones:
exact (no hashing, so no collisions) while distinct n-grams * V < 2**63. Contexts are keyed
right to left (``rank of the (n-1)-gram suffix * V + first id``), so one ``np.searchsorted``
per id extends a context by one word to the left and every order's context is on the way; a
level's n-grams are keyed ``rank of the context * V + word``, so sorted keys put one context's
words side by side. Scoring handles a whole batch of positions per order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import arrays


class Unigram:
    arch = "unigram"

    def __init__(self, docs: list[np.ndarray], vocab_size: int):
        counts = np.bincount(np.concatenate(docs), minlength=vocab_size).astype(np.float64) + 1.0
        self.logp = np.log(counts / counts.sum())

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.logp, (len(ids), len(self.logp)))


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def discounts(counts_of_counts: Sequence[int], modified: bool) -> tuple[float, float, float]:
    """(D1, D2, D3+) of one order from how many n-grams were seen once, twice, ... four times
    (``counts_of_counts[k]``, k = 1..4).
    Kept inside (0, k) for a count k: tiny data (no n-gram seen once or twice) would otherwise
    give unseen words P = 0 or negative counts."""
    n1, n2, n3, n4 = (counts_of_counts[k] for k in (1, 2, 3, 4))
    if not n1 + n2:
        return (0.5, 0.5, 0.5)
    y = n1 / (n1 + 2 * n2)
    if not modified:
        d = _clamp(y, 0.1, 0.9)
        return (d, d, d)
    d1 = _clamp(1 - 2 * y * n2 / n1, 0.1, 0.9) if n1 else 0.5
    d2 = _clamp(2 - 3 * y * n3 / n2, 0.1, 1.9) if n2 else d1
    d3 = _clamp(3 - 4 * y * n4 / n3, 0.1, 2.9) if n3 else d2
    return (d1, d2, d3)


def _find(sorted_keys: np.ndarray, key: int) -> int:
    """``arrays.index`` of one key, without array overhead."""
    at = int(np.searchsorted(sorted_keys, key))
    return at if at < len(sorted_keys) and sorted_keys[at] == key else -1


def _positions(docs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every document's ids end to end (N,), and for each position how many ids its document
    has from there on, itself included (N,): an n-gram starts where that is at least n."""
    lengths = np.array([len(doc) for doc in docs], np.int64)  # (D,)
    ids = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32)
    return ids, (np.repeat(np.cumsum(lengths), lengths) - np.arange(len(ids))).astype(np.int32)


def _count(ids: np.ndarray, room: np.ndarray, vocab_size: int, order: int) -> tuple[list[np.ndarray], list[tuple]]:
    """The distinct n-grams of every order n = 1..order, keyed both ways: ``suffixed`` (U_n,),
    sorted ``rank of ids[1:] in suffixed[n-1] * V + ids[0]`` (with the empty gram at n = 0), and
    for each level the sorted keys ``rank of ids[:-1] in suffixed[n-1] * V + ids[-1]`` (U_n,) with
    their counts (U_n,): continuation counts below ``order``, raw counts at ``order``."""
    suffixed, levels = [np.zeros(1, np.int64)], []
    ranks = np.zeros(len(ids), np.int32)  # (N,) rank in suffixed[n-1] of the (n-1)-gram at each position, -1: none
    for n in range(1, order + 1):
        at = np.flatnonzero(room >= n)  # (M,) positions that start an n-gram
        tails = ranks[at + 1] if n > 1 else ranks[at]  # (M,) the (n-1)-gram after the first id (n = 1: the empty gram)
        keys, first, rank, count = arrays.unique(tails * np.int64(vocab_size) + ids[at])  # (U_n,), (U_n,), (M,), (U_n,)
        del tails  # one array of M fewer at the peak
        where = at[first]  # (U_n,) a position of each distinct n-gram
        # Each distinct n-gram keyed by its prefix's rank and last id: distinct keys, so their sort is the level's order.
        grams, _, to_gram, _ = arrays.unique(ranks[where] * np.int64(vocab_size) + ids[where + n - 1])  # (U_n,), (U_n,) suffixed rank -> rank in grams
        if n > 1:  # distinct n-grams ending with each (n-1)-gram: how many different words precede it
            levels[-1][1][previous] = np.bincount(keys // vocab_size, minlength=len(previous))
        raw = np.empty(len(grams), np.int64)  # (U_n,) raw counts in gram order, replaced below order
        raw[to_gram] = count
        levels.append((grams, raw))
        suffixed.append(keys)
        previous = to_gram
        ranks = np.full(len(ids), -1, rank.dtype)
        ranks[at] = rank
    return suffixed[:order], levels


class _Level:
    """One order's n-grams with a positive (raw or continuation) count, as sorted keys (E,) with
    their weights ``(count - discount) / context total`` (E,); its contexts' ranks among the
    distinct (n-1)-grams (C,), where each one's n-grams start (C + 1,), and ``gamma`` (C,), the
    mass each leaves to the lower order."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, vocab_size: int, modified: bool = False):
        seen = counts > 0
        self.keys, count = keys[seen], counts[seen]  # (E,)
        self.discount = discounts([int(c) for c in np.bincount(np.minimum(count, 5), minlength=5)], modified)  # (D1, D2, D3+)
        discount = np.array((0.0,) + self.discount)[np.minimum(count, 3)]  # (E,)
        contexts = self.keys // vocab_size  # (E,)
        first = np.flatnonzero(np.diff(contexts, prepend=-1))  # (C,)
        self.contexts, self.bounds = contexts[first], np.r_[first, len(self.keys)]
        total = np.add.reduceat(count.astype(np.float64), first)  # (C,)
        self.gamma = np.add.reduceat(discount, first) / total  # (C,)
        self.weights = (count - discount) / np.repeat(total, np.diff(self.bounds))  # (E,)


class KneserNey:
    """Interpolated Kneser-Ney language model of ``order`` over integer ids; ``modified``: three
    discounts per order (Chen & Goodman's modified Kneser-Ney)."""

    def __init__(self, docs: list[np.ndarray], vocab_size: int, order: int = 5, modified: bool = False):
        self.order, self.vocab_size = order, vocab_size
        self.arch = f"{'mkn' if modified else 'kn'}-{order}"
        self.suffixed, levels = _count(*_positions(docs), vocab_size, order)  # contexts: suffixed[k] (U_k,), k < order
        self.levels = {n: _Level(keys, counts, vocab_size, modified) for n, (keys, counts) in enumerate(levels, 1)}
        uniform = np.full((1, vocab_size), 1.0 / vocab_size)  # (1, V)
        self.unigram = self._interpolate(uniform, 1, np.zeros(1, np.int64))[0]  # (V,) P(.) of the empty context

    def _context_ranks(self, ids: np.ndarray) -> list[np.ndarray]:
        """For k = 0 .. min(order - 1, T): the rank (B,) of each row's last k ids (B, T) among the
        distinct k-grams, -1 where unseen."""
        ranks = [np.zeros(len(ids), np.int64)]  # (B,) each
        for k in range(1, min(self.order - 1, ids.shape[1]) + 1):
            word = ids[:, -k]  # (B,)
            known = (ranks[-1] >= 0) & (word >= 0) & (word < self.vocab_size)
            ranks.append(arrays.index(self.suffixed[k], np.where(known, ranks[-1] * self.vocab_size + word, -1)))
        return ranks

    def _interpolate(self, probs: np.ndarray, n: int, contexts: np.ndarray) -> np.ndarray:
        """Mixes order n into ``probs`` (B, V) in place: each row whose context (B,) has n-grams
        here keeps ``gamma`` of the lower orders and gains its n-grams' weights."""
        level = self.levels[n]
        found = arrays.index(level.contexts, contexts)  # (B,)
        rows = np.flatnonzero(found >= 0)  # (R,)
        begin, end = level.bounds[found[rows]], level.bounds[found[rows] + 1]  # (R,)
        lengths = end - begin
        entries = np.arange(lengths.sum()) + np.repeat(begin - np.cumsum(lengths) + lengths, lengths)  # (sum lengths,)
        probs[rows] *= level.gamma[found[rows], None]
        probs[np.repeat(rows, lengths), level.keys[entries] % self.vocab_size] += level.weights[entries]
        return probs

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """P(. | each row's last order-1 ids): ids (B, T) -> (B, V), each row summing to 1."""
        ranks = self._context_ranks(np.asarray(ids, np.int64))
        probs = np.tile(self.unigram, (len(ids), 1))  # (B, V)
        for n, contexts in enumerate(ranks[1:], 2):
            self._interpolate(probs, n, contexts)
        return probs

    def distribution(self, context: tuple[int, ...]) -> np.ndarray:
        """P(. | context) over the vocabulary, (V,) summing to 1. One context with scalar lookups,
        as ``probabilities`` of one row gives, in microseconds (the spelling model calls it per
        character)."""
        probs, rank = self.unigram.copy(), 0
        for n in range(2, min(self.order, len(context) + 1) + 1):
            word = int(context[-(n - 1)])
            rank = _find(self.suffixed[n - 1], rank * self.vocab_size + word) if 0 <= word < self.vocab_size else -1
            if rank < 0:
                break  # no longer context was seen either
            level = self.levels[n]
            found = _find(level.contexts, rank)
            if found >= 0:
                begin, end = level.bounds[found], level.bounds[found + 1]
                probs *= level.gamma[found]
                probs[level.keys[begin:end] % self.vocab_size] += level.weights[begin:end]
        return probs

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        return np.log(self.probabilities(ids))

    def logprob(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """log P(target | its context's last order-1 ids) of every row, contexts (N, k) and targets
        (N,) in the vocabulary -> (N,): ``last_logits`` at the targets, without an (N, V) matrix."""
        targets = np.asarray(targets, np.int64)
        probs = np.full(len(targets), 1.0 / self.vocab_size)  # (N,)
        for n, ranks in enumerate(self._context_ranks(np.asarray(contexts, np.int64)), 1):
            level = self.levels[n]
            found = arrays.index(level.contexts, ranks)  # (N,)
            probs[found >= 0] *= level.gamma[found[found >= 0]]
            entry = arrays.index(level.keys, np.where(found >= 0, ranks * self.vocab_size + targets, -1))  # (N,)
            probs[entry >= 0] += level.weights[entry[entry >= 0]]
        return np.log(probs)
