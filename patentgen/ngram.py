"""Count-based baselines: an add-one unigram model and interpolated Kneser-Ney n-grams.

Owns the peers the neural models are ranked against. Both expose ``last_logits(ids (B, T))``
(log-probabilities over the whole vocabulary), so ``evaluate.full_context`` scores them exactly
as it scores the networks, with the same tokenizer, split and targets.

Kneser-Ney (Chen & Goodman's interpolated form, one absolute discount per order,
``D = n1 / (n1 + 2 n2)``): the highest order uses raw counts, lower orders continuation counts
(how many different words precede an n-gram), and the unigram level is interpolated with the
uniform distribution.
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


class _Level:
    """One order: for each context, the following words and their (raw or continuation) counts."""

    def __init__(self, counts: Counter):
        grouped: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
        for gram, count in counts.items():
            grouped[gram[:-1]].append((gram[-1], count))
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        # kept in [0.1, 0.9]: tiny data (no n-gram seen once) would otherwise give unseen words P = 0
        self.discount = min(max(n1 / (n1 + 2 * n2), 0.1), 0.9) if n1 + n2 else 0.5
        self.table = {}
        for context, pairs in grouped.items():
            words = np.fromiter((w for w, _ in pairs), np.int64, len(pairs))
            values = np.fromiter((c for _, c in pairs), np.float64, len(pairs))
            self.table[context] = (words, values, values.sum())


class KneserNey:
    """Interpolated Kneser-Ney language model of ``order`` over integer ids."""

    def __init__(self, docs: list[np.ndarray], vocab_size: int, order: int = 5):
        self.order, self.vocab_size = order, vocab_size
        self.arch = f"kn-{order}"
        raw: list[Counter] = [Counter() for _ in range(order + 1)]
        for doc in docs:
            seq = tuple(int(i) for i in doc)
            for n in range(1, order + 1):
                raw[n].update(seq[i : i + n] for i in range(len(seq) - n + 1))
        levels = {order: raw[order]}
        for n in range(1, order):  # continuation counts: distinct words before each n-gram
            levels[n] = Counter(gram[1:] for gram in raw[n + 1])
        self.levels = {n: _Level(levels[n]) for n in range(1, order + 1)}

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
            words, values, total = entry
            gamma = level.discount * len(words) / total  # mass moved to the lower order
            probs = gamma * probs
            probs[words] += np.maximum(values - level.discount, 0.0) / total
        return probs

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        return np.log(np.stack([self.distribution(tuple(int(i) for i in row)) for row in ids]))
