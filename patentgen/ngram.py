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
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np


class Unigram:
    arch = "unigram"

    def __init__(self, docs: list[np.ndarray], vocab_size: int):
        counts = np.bincount(np.concatenate(docs), minlength=vocab_size).astype(np.float64) + 1.0
        self.logp = np.log(counts / counts.sum())

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.logp, (len(ids), len(self.logp)))


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def discounts(counts_of_counts: Counter, modified: bool) -> tuple[float, float, float]:
    """(D1, D2, D3+) of one order from how many n-grams were seen once, twice, ... four times.
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


class _Level:
    """One order: for each context, the following words, their (raw or continuation) counts,
    and each one's discount."""

    def __init__(self, counts: Counter, modified: bool = False):
        grouped: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
        for gram, count in counts.items():
            grouped[gram[:-1]].append((gram[-1], count))
        self.discount = discounts(Counter(counts.values()), modified)  # (D1, D2, D3+)
        by_count = np.array((0.0,) + self.discount)  # index: min(count, 3)
        self.table = {}
        for context, pairs in grouped.items():
            words = np.fromiter((w for w, _ in pairs), np.int64, len(pairs))
            values = np.fromiter((c for _, c in pairs), np.float64, len(pairs))
            self.table[context] = (words, values, values.sum(), by_count[np.minimum(values, 3).astype(np.int64)])


class KneserNey:
    """Interpolated Kneser-Ney language model of ``order`` over integer ids; ``modified``: three
    discounts per order (Chen & Goodman's modified Kneser-Ney)."""

    def __init__(self, docs: list[np.ndarray], vocab_size: int, order: int = 5, modified: bool = False):
        self.order, self.vocab_size = order, vocab_size
        self.arch = f"{'mkn' if modified else 'kn'}-{order}"
        raw: list[Counter] = [Counter() for _ in range(order + 1)]
        for doc in docs:
            seq = tuple(int(i) for i in doc)
            for n in range(1, order + 1):
                raw[n].update(seq[i : i + n] for i in range(len(seq) - n + 1))
        levels = {order: raw[order]}
        for n in range(1, order):  # continuation counts: distinct words before each n-gram
            levels[n] = Counter(gram[1:] for gram in raw[n + 1])
        self.levels = {n: _Level(levels[n], modified) for n in range(1, order + 1)}

    def distribution(self, context: tuple[int, ...]) -> np.ndarray:
        """P(. | context) over the vocabulary, (V,) summing to 1."""
        probs = np.full(self.vocab_size, 1.0 / self.vocab_size)
        context = context[-(self.order - 1) :] if self.order > 1 else ()
        for n in range(1, self.order + 1):
            if n - 1 > len(context):
                break
            level = self.levels[n]
            entry = level.table.get(context[len(context) - (n - 1) :] if n > 1 else ())
            if entry is None:
                continue  # unseen context: keep the lower-order distribution
            words, values, total, discount = entry
            gamma = discount.sum() / total  # mass moved to the lower order
            probs = gamma * probs
            probs[words] += (values - discount) / total
        return probs

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        return np.log(np.stack([self.distribution(tuple(int(i) for i in row)) for row in ids]))
