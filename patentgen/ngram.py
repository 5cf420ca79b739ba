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

Counting and scoring are numpy arrays, not dicts, so a corpus of ~13M tokens fits about 1 GB;
the sorts and lookups go through ``arrays``, which keeps their memory access cheap as it grows.
Fresh memory costs far more than a pass over memory already touched, so every order is counted
in one set of position-sized work arrays, touched once; beyond them a fit makes only what the
model keeps (and a count per n-gram until its level is weighed), every other step a chunk at a
time. An n-gram is one int64 key built from the rank of a shorter one among the distinct
shorter ones and an id of ``bits`` bits: exact (no hashing, so no collisions) while distinct
n-grams * 2**bits < 2**63. Contexts are keyed right to
left (``rank of the (n-1)-gram suffix << bits | first id``), so one ``np.searchsorted`` per id
extends a context by one word to the left and every order's context is on the way. A level
stores its n-grams grouped by context, indexed by the context's rank: where each context's
words begin (dense, no search), their last words (uint16 while V <= 2**16) and weights.
Scoring handles a whole batch of positions per order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import arrays

MAX_ORDER = 127  # ``_positions`` counts the ids left in a document up to the order, in int8


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


def _positions(docs: list[np.ndarray], order: int) -> tuple[np.ndarray, np.ndarray]:
    """Every document's ids end to end (N,), and for each position how many ids its document
    has from there on, itself included, counted up to ``order`` (N,): an n-gram starts where
    that is at least n."""
    lengths = np.fromiter(map(len, docs), np.int64, len(docs))  # (D,)
    ids = np.concatenate(docs, dtype=np.int32, casting="same_kind") if docs else np.zeros(0, np.int32)
    room = np.full(len(ids), order, np.int8)  # (N,)
    ends = np.cumsum(lengths)  # (D,)
    for left in range(1, order):
        room[ends[lengths >= left] - left] = left
    return ids, room


def _count(ids: np.ndarray, room: np.ndarray, vocab_size: int, bits: int, order: int,
           modified: bool) -> tuple[list[np.ndarray], dict[int, "_Level"]]:
    """The distinct n-grams of every order n = 1..order-1 as contexts, ``suffixed`` (U_n,), sorted
    ``rank of ids[1:] in suffixed[n-1] << bits | ids[0]`` (with the empty gram at n = 0), and
    the levels n = 1..order, weighed with continuation counts below ``order``; the top one holds
    its raw counts, to be weighed once the work arrays are gone. Every order works in the same
    position-sized arrays, touched once; what is made per order is what the model keeps, plus
    one int32 count per n-gram until its level is weighed."""
    size, shift = len(ids), np.int64(bits)
    work = arrays.Scratch(size)
    # Unigrams from a table over the vocabulary: keyed by their id both ways, no sort needed.
    occurs = arrays.bincount(ids, vocab_size)  # (V,)
    words = np.flatnonzero(occurs)  # (U_1,)
    ranks = np.cumsum(occurs > 0, dtype=work.runs.dtype)[ids]  # (N,) 1 + rank in suffixed[n-1] of the (n-1)-gram at each position
    ranks -= 1
    following = np.empty_like(ranks)  # (N,) the same for the n-grams; both undefined where none starts
    space = np.empty(size, ranks.dtype)  # (N,) room for to_gram
    to_gram = space[:len(words)]  # (U_n,) suffixed rank -> rank in the level's order
    to_gram[:] = np.arange(len(words))
    keys = np.empty(size, np.int64)  # (N,) the n-gram key at each position, then the sort's space
    suffixed = [np.zeros(1, np.int64), words]
    level = _Level(words.copy(), bits, 1)
    levels = {1: level}
    if order == 1:
        level.counts[:] = occurs[words]
    for n in range(2, order + 1):
        past = len(suffixed[-1]) << bits  # above every key: where no n-gram starts
        np.left_shift(ranks[1:], shift, out=keys[:-1])  # the (n-1)-gram after the first id
        keys[:-1] |= ids[:-1]
        keys[-1:] = past
        np.less(room, n, out=work.starts)
        np.copyto(keys, past, where=work.starts)
        top = n == order  # raw counts only there
        distinct, first, _, count = arrays.unique(keys, work, inverse=following, counts=top)  # (U_n,) each (+ 1 with past)
        if len(distinct) and distinct[-1] == past:
            distinct, first, count = distinct[:-1], first[:-1], count[:-1] if top else None
        grams = len(distinct)
        if not top:
            suffixed.append(distinct.copy())
        # distinct n-grams ending with each (n-1)-gram: how many different words precede it
        arrays.tally(np.right_shift(distinct, shift, out=distinct), level.counts, where=to_gram)
        level.weigh(modified)
        if top:
            raw = following[:grams]  # (U_n,) no n-gram follows the top order's: its ranks' space is free
            raw[:] = count
        # Each distinct n-gram keyed by its prefix's rank and last id: distinct keys, so their sort is the level's order.
        prefixed = keys[:grams]  # (U_n,)
        for part in arrays.chunks(grams):
            starts = first[part]  # (chunk,)
            prefixed[part] = np.left_shift(ranks[starts], shift) | ids[starts + (n - 1)]
        del first
        grams_sorted, _, to_gram, _ = arrays.unique(prefixed, work, inverse=space[:grams], first=False, counts=False)
        level = _Level(grams_sorted, bits, len(suffixed[n - 1]))
        levels[n] = level
        if top:
            level.counts[to_gram] = raw
        ranks, following = following, ranks
    return suffixed[:order], levels


class _Level:
    """One order's distinct n-grams, grouped by context: the rank of a context's (n-1)-gram among
    the distinct ones (C of them) indexes ``bounds`` (C + 1,), where its n-grams' last ``words``
    (E,), sorted within each context, begin and end. Weighed from their (raw or continuation)
    ``counts`` (E,): ``weights`` ``(count - discount) / context total`` (E,) and ``gamma`` (C,),
    the mass a context leaves to the lower order (1 where it has no counts here: the lower order
    stands as it is). An n-gram with no continuation count (one seen only where a document
    begins) keeps weight 0."""

    def __init__(self, keys: np.ndarray, bits: int, contexts: int):
        """From the sorted n-gram keys (E,), ``context rank << bits | last id``, which are the
        caller's to lose."""
        self.words = np.empty(len(keys), np.uint16 if bits <= 16 else np.int32)  # (E,)
        for part in arrays.chunks(len(keys)):
            self.words[part] = keys[part] & ((1 << bits) - 1)
        kind = np.int32 if len(keys) < 2**31 else np.int64
        self.bounds = np.zeros(contexts + 1, kind)  # (C + 1,)
        arrays.tally(np.right_shift(keys, bits, out=keys), self.bounds[1:])
        for part in arrays.chunks(contexts):  # a running sum, carried from chunk to chunk
            np.cumsum(self.bounds[part.start:part.stop + 1], out=self.bounds[part.start:part.stop + 1])
        self.counts = np.zeros(len(keys), np.int32)  # (E,) until weighed

    def weigh(self, modified: bool) -> None:
        """Discounts, ``weights`` and ``gamma`` from ``counts``, which are then dropped; a group
        of contexts at a time."""
        counts, self.counts = self.counts, None
        of_counts = np.zeros(6, np.int64)
        for part in arrays.chunks(len(counts)):
            of_counts += np.bincount(np.minimum(counts[part], 5), minlength=6)
        self.discount = discounts([int(c) for c in of_counts], modified)  # (D1, D2, D3+)
        by_count = np.array((0.0,) + self.discount)
        self.weights = np.empty(len(counts))  # (E,)
        self.gamma = np.ones(len(self.bounds) - 1)  # (C,)
        for first, stop in arrays.spans(self.bounds):
            begin, end = self.bounds[first], self.bounds[stop]
            group = np.repeat(np.arange(stop - first), np.diff(self.bounds[first:stop + 1]))  # (e,) each n-gram's context, from 0
            count = counts[begin:end]  # (e,)
            discount = by_count[np.minimum(count, 3)]  # (e,)
            total = np.bincount(group, weights=count, minlength=stop - first)  # (c,)
            mass = np.bincount(group, weights=discount, minlength=stop - first)  # (c,)
            seen = total > 0
            self.gamma[first:stop][seen] = mass[seen] / total[seen]
            np.subtract(count, discount, out=self.weights[begin:end])
            np.divide(self.weights[begin:end], np.where(seen, total, 1.0)[group], out=self.weights[begin:end])

    def spans(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows (R,) of ``contexts`` (B,) (ranks, -1: unseen) that have n-grams here, and
        where each one's n-grams begin and end (R,) each."""
        rows = np.flatnonzero(contexts >= 0)
        begin, end = self.bounds[contexts[rows]], self.bounds[contexts[rows] + 1]
        keep = end > begin
        return rows[keep], begin[keep].astype(np.int64), end[keep].astype(np.int64)

    def find(self, begin: np.ndarray, end: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Where each word (R,) is among ``self.words[begin:end]`` of its row, -1 where absent:
        a bisection of all rows at once, as many steps as the longest span needs."""
        if len(self.bounds) == 2:  # one context (the unigrams'): all the words, one search each
            at = np.minimum(np.searchsorted(self.words, words), max(len(self.words) - 1, 0))
            return np.where((at < end) & (self.words[at] == words), at, -1) if len(self.words) else np.full(len(words), -1)
        low, high = begin.copy(), end.copy()  # (R,) each
        last = len(self.words) - 1
        for _ in range(int(np.max(end - begin, initial=0)).bit_length()):
            middle = (low + high) >> 1
            right = (self.words[np.minimum(middle, last)] < words) & (low < high)  # (R,)
            np.copyto(low, middle + 1, where=right)
            np.copyto(high, middle, where=~right)
        found = low < end
        found[found] = self.words[low[found]] == words[found]
        return np.where(found, low, -1)


class KneserNey:
    """Interpolated Kneser-Ney language model of ``order`` over integer ids; ``modified``: three
    discounts per order (Chen & Goodman's modified Kneser-Ney)."""

    def __init__(self, docs: list[np.ndarray], vocab_size: int, order: int = 5, modified: bool = False):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"a Kneser-Ney order is 1 to {MAX_ORDER}, not {order}")
        self.order, self.vocab_size = order, vocab_size
        self.bits = max(int(vocab_size - 1).bit_length(), 1)  # an id's bits in a key
        self.arch = f"{'mkn' if modified else 'kn'}-{order}"
        # contexts: suffixed[k] (U_k,), k < order
        self.suffixed, self.levels = _count(*_positions(docs, order), vocab_size, self.bits, order, modified)
        self.levels[order].weigh(modified)
        uniform = np.full((1, vocab_size), 1.0 / vocab_size)  # (1, V)
        self.unigram = self._interpolate(uniform, 1, np.zeros(1, np.int64))[0]  # (V,) P(.) of the empty context

    def _context_ranks(self, ids: np.ndarray) -> list[np.ndarray]:
        """For k = 0 .. min(order - 1, T): the rank (B,) of each row's last k ids (B, T) among the
        distinct k-grams, -1 where unseen."""
        ranks = [np.zeros(len(ids), np.int64)]  # (B,) each
        for k in range(1, min(self.order - 1, ids.shape[1]) + 1):
            word = ids[:, -k]  # (B,)
            known = (ranks[-1] >= 0) & (word >= 0) & (word < self.vocab_size)
            ranks.append(arrays.index(self.suffixed[k], np.where(known, (ranks[-1] << self.bits) | word, -1)))
        return ranks

    def _interpolate(self, probs: np.ndarray, n: int, contexts: np.ndarray) -> np.ndarray:
        """Mixes order n into ``probs`` (B, V) in place: each row whose context (B,) has n-grams
        here keeps ``gamma`` of the lower orders and gains its n-grams' weights."""
        level = self.levels[n]
        rows, begin, end = level.spans(contexts)  # (R,) each
        lengths = end - begin
        entries = np.arange(lengths.sum()) + np.repeat(begin - np.cumsum(lengths) + lengths, lengths)  # (sum lengths,)
        probs[rows] *= level.gamma[contexts[rows], None]
        probs[np.repeat(rows, lengths), level.words[entries]] += level.weights[entries]
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
            rank = _find(self.suffixed[n - 1], (rank << self.bits) | word) if 0 <= word < self.vocab_size else -1
            if rank < 0:
                break  # no longer context was seen either
            level = self.levels[n]
            begin, end = level.bounds[rank], level.bounds[rank + 1]
            if end > begin:
                probs *= level.gamma[rank]
                probs[level.words[begin:end]] += level.weights[begin:end]
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
            rows, begin, end = level.spans(ranks)  # (R,) each
            probs[rows] *= level.gamma[ranks[rows]]
            entry = level.find(begin, end, targets[rows])  # (R,)
            probs[rows[entry >= 0]] += level.weights[entry[entry >= 0]]
        return np.log(probs)


class Mixture:
    """Linear interpolation of two language models' distributions, ``weight * P_a + (1 - weight)
    * P_b``: the usual way to give a count model extra text from another source (one model per
    source, the weight fitted on held-out text of the target; ``fit_weight``)."""

    def __init__(self, a, b, weight: float):
        self.a, self.b, self.weight = a, b, float(weight)
        self.vocab_size, self.arch = a.vocab_size, f"{a.arch}|{b.arch}"

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, T) -> log-probabilities (B, V)."""
        return np.logaddexp(np.log(self.weight) + self.a.last_logits(ids), np.log1p(-self.weight) + self.b.last_logits(ids))


def fit_weight(a, b, contexts: np.ndarray, targets: np.ndarray, grid=np.round(np.arange(0.05, 1.0, 0.05), 2)) -> float:
    """The weight of ``a`` in ``Mixture(a, b, weight)`` on a grid that maximises the likelihood
    of ``targets`` (N,) after ``contexts`` (N, k): held-out text, never the text reported."""
    la, lb = a.logprob(contexts, targets), b.logprob(contexts, targets)  # (N,) each
    return float(max(grid, key=lambda w: np.logaddexp(np.log(w) + la, np.log1p(-w) + lb).mean()))
