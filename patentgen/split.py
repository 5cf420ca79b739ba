"""Split stage: group exact and near-duplicate documents and send whole groups to one side.

Owns the honest train/validation/test split. Two documents are near-duplicates when they share
more than ``threshold`` of the word n-grams of the shorter one (8-grams, half, by default);
groups are the connected components of that relation, so a chain of continuation patents
always lands on one side. An n-gram in more than 200 documents is boilerplate, not evidence: it is
shared by none (it still counts among each document's n-grams).

The grouping scales: n-gram hashes in numpy arrays sorted once, one key per (pair of documents,
shared n-gram) counted by sorting, no Python object per n-gram; memory grows linearly with the
corpus (at most 100 pair keys per n-gram occurrence, by the boilerplate bound).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .arrays import bincount, chunks, differs, or_positions

SIDES = ("train", "val", "test")
# An n-gram shared by more documents than this is boilerplate, not evidence of copying.
_MAX_DOCS_PER_SHINGLE = 200


@dataclass(frozen=True)
class Split:
    """Document indices on each side, and the group id of every document."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    groups: tuple[int, ...]

    def side(self, name: str) -> tuple[int, ...]:
        return getattr(self, name)

    def summary(self) -> dict[str, dict[str, int]]:
        """Groups and documents per side."""
        return {
            name: {"groups": len({self.groups[i] for i in self.side(name)}), "documents": len(self.side(name))}
            for name in SIDES
        }

    def to_json(self) -> dict:
        return {name: list(self.side(name)) for name in SIDES}


# Word n-gram hashes: every word an id, an n-gram the chain (xor, multiply) of its mixed ids from a
# seed of its length, finished by splitmix64, so a document shorter than n (hashed whole) never
# meets an n-gram. 64 bits: the first collision is expected near 4 billion distinct n-grams.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_ODD = np.uint64(0xBF58476D1CE4E5B9)
_LOW = np.uint64(0xFFFFFFFF)
_CHUNK = 1 << 22  # pair keys counted at a time
_BLOCK = 1 << 16  # n-grams hashed at a time (in the processor's cache)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place on a uint64 array."""
    x ^= x >> np.uint64(30)
    x *= _ODD
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _chain(columns, length: int, count: int) -> np.ndarray:
    """Hashes of ``count`` id sequences of ``length``, given as ``length`` columns of mixed ids."""
    hashes = np.full(count, length + 1, np.uint64)
    hashes *= _GOLDEN
    for column in columns:
        hashes ^= column
        hashes *= _ODD
    return _mix(hashes)


def _mixed_ids(ids: np.ndarray) -> np.ndarray:
    """The ids mixed, in place where ``ids`` is uint64 (a cache-sized block at a time)."""
    mixed = np.asarray(ids, np.uint64)
    for lo in range(0, len(mixed), _BLOCK):
        block = mixed[lo : lo + _BLOCK]
        block += _GOLDEN
        _mix(block)
    return mixed


def _ngram_hashes(mixed: np.ndarray, n: int, whole: np.ndarray) -> np.ndarray:
    """Hashes of the n-grams at the positions where ``whole``, a cache-sized block at a time,
    written over the start of ``mixed`` (a block's hashes land before the ids later blocks read)."""
    filled = 0
    for lo in range(0, len(whole), _BLOCK):
        hi = min(lo + _BLOCK, len(whole))
        block = _chain((mixed[lo + j : hi + j] for j in range(n)), n, hi - lo)[whole[lo:hi]]
        mixed[filled : filled + len(block)] = block
        filled += len(block)
    return mixed[:filled]


def word_ids(docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Every document's words as ids (a word's id: where it first occurs), concatenated, and the
    document offsets."""
    first: dict[str, int] = {}
    lengths = np.fromiter(map(len, docs), np.int64, len(docs))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    words = itertools.chain.from_iterable(docs)
    return np.fromiter(map(first.setdefault, words, itertools.count()), np.uint64, int(offsets[-1])), offsets


def _whole_ngrams(lengths: np.ndarray, offsets: np.ndarray, n: int, count: int) -> np.ndarray:
    """Whether the n words from each position lie in one document: +1 where a document's
    n-grams begin, -1 after they end, summed in place (never more than 1: they do not overlap)."""
    marks = np.full(count + 1, 0, np.int8)  # written through once (zeroed pages would fault twice)
    long = np.flatnonzero(lengths >= n)
    marks[offsets[long]] += 1  # distinct places within each statement
    marks[offsets[long + 1] - n + 1] -= 1
    return np.cumsum(marks, dtype=np.int8, out=marks)[:-1].view(bool)


def shingles(ids: np.ndarray, offsets: np.ndarray, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of every document's word n-grams (a document shorter than n: one hash of all of
    it) and the document of each; an n-gram may repeat within a document. ``ids``: the words of
    all documents (one id per distinct word), document d at ``ids[offsets[d]:offsets[d + 1]]``;
    uint64 ids are scratch space (the hashes are made in them, no copy of the corpus's size)."""
    mixed = _mixed_ids(ids)
    lengths = np.diff(offsets)
    count = max(len(mixed) - n + 1, 0)
    hashes, owners = [], []
    for length in np.unique(lengths[lengths < n]):  # before the n-grams' hashes overwrite the ids
        short = np.flatnonzero(lengths == length)
        hashes.append(_chain((mixed[offsets[short] + j] for j in range(length)), int(length), len(short)))
        owners.append(short.astype(np.int32))
    hashes.insert(0, _ngram_hashes(mixed, n, _whole_ngrams(lengths, offsets, n, count)))
    owners.insert(0, np.repeat(np.arange(len(lengths), dtype=np.int32), np.maximum(lengths - n + 1, 0)))  # the n-grams' documents
    if len(hashes) == 1:  # no short document: no copy
        return hashes[0], owners[0]
    return np.concatenate(hashes), np.concatenate(owners)


def _prefix_sorted(hashes: np.ndarray, position_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions of the hashes whose top bits another hash shares, in (top bits, position)
    order, the number of each one's run of equal top bits, and its full hash. Sorts (top bits <<
    bits | position) in place of the hashes (their low bits kept aside, at most half their
    memory), which is much faster than an argsort of the hashes."""
    bits = max(int(len(hashes) - 1).bit_length(), position_bits, 1)
    low = np.uint64((1 << bits) - 1)
    lost = np.empty(len(hashes), np.uint32 if bits <= 32 else np.uint64)  # the low bits of each hash
    for part in chunks(len(hashes)):
        lost[part] = hashes[part] & low
        hashes[part] &= ~low
    keys = or_positions(hashes)
    keys.sort()
    first = np.ones(len(keys), bool)  # where the top bits differ from the key before
    for part in chunks(len(keys) - 1):
        first[part.start + 1 : part.stop + 1] = (keys[part.start + 1 : part.stop + 1] ^ keys[part]) > low
    candidate = ~first
    candidate[:-1] |= ~first[1:]
    places = keys[candidate]  # (C,)
    full = places & ~low  # (C,)
    places &= low
    full |= lost[places]
    return places.view(np.int64), np.cumsum(first[candidate], dtype=np.int32), full


def _shared_runs(hashes: np.ndarray, owner: np.ndarray, position_bits: int = 0) -> np.ndarray:
    """(run << 32 | document), sorted, for every n-gram that occurs more than once (a run is one
    such n-gram, runs in hash order), given each hash's document. The hashes are scratch space:
    their contents are lost."""
    places, segment, full = _prefix_sorted(hashes, position_bits)
    clash = ~differs(segment) & differs(full)  # top bits shared by two hashes: put in hash order
    if clash.any():
        clashed = np.zeros(int(segment[-1]) + 1, bool)  # by segment number
        clashed[segment[clash]] = True
        fix = np.flatnonzero(clashed[segment])
        order = np.lexsort((places[fix], full[fix], segment[fix]))
        places[fix], full[fix] = places[fix][order], full[fix][order]
    first = differs(full)
    shared = ~first
    shared[:-1] |= ~first[1:]
    keys = np.cumsum(first[shared], dtype=np.uint64)
    keys <<= np.uint64(32)
    keys |= owner[places[shared]].astype(np.uint32)
    keys.sort()
    return keys


def _pair_keys(runs: np.ndarray, documents: int, max_docs: int) -> np.ndarray:
    """a * documents + b, sorted, once for every n-gram that documents a < b share, where the
    n-gram is in 2 to ``max_docs`` documents."""
    run = runs >> np.uint64(32)
    owner = (runs & _LOW).view(np.int64)
    starts = np.flatnonzero(differs(run))
    lengths = np.diff(np.concatenate([starts, [len(run)]]))
    kept = (lengths > 1) & (lengths <= max_docs)
    owner, lengths = owner[np.repeat(kept, lengths)], lengths[kept]
    places = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    sizes = np.repeat(lengths, lengths)
    keys = np.empty(int((lengths * (lengths - 1) // 2).sum()), np.int64)
    ahead, filled = np.flatnonzero(places + 1 < sizes), 0
    for step in range(1, int(lengths.max(initial=1))):
        ahead = ahead[places[ahead] + step < sizes[ahead]]
        keys[filled : filled + len(ahead)] = owner[ahead] * documents + owner[ahead + step]
        filled += len(ahead)
    keys.sort()
    return keys


def near_duplicate_pairs(ids: np.ndarray, offsets: np.ndarray, n: int = 8, threshold: float = 0.5,
                         max_docs: int = _MAX_DOCS_PER_SHINGLE) -> np.ndarray:
    """Pairs (a < b) of documents that share more than ``threshold`` of the shorter one's unique
    n-grams, as an array of shape (pairs, 2). An n-gram in more than ``max_docs`` documents is
    boilerplate: shared by none, but still one of each of its documents' n-grams. Memory: a few
    arrays as long as the corpus, and one key per (pair, shared n-gram)."""
    hashes, owner = shingles(ids, offsets, n)
    documents = len(offsets) - 1
    sizes = bincount(owner, documents)
    runs = _shared_runs(hashes, owner)
    del hashes, owner
    repeated = ~differs(runs)  # an n-gram again in one document
    sizes -= np.bincount((runs[repeated] & _LOW).astype(np.int64), minlength=documents)
    keys = _pair_keys(runs[~repeated], documents, max_docs)
    del runs
    cuts = np.unique(np.searchsorted(keys, keys[::_CHUNK]))  # chunks start where a pair does
    found = [_over_threshold(keys[lo:hi], sizes, threshold) for lo, hi in zip(cuts, [*cuts[1:], len(keys)])]
    return np.concatenate(found or [np.empty((0, 2), np.int64)])


def _over_threshold(keys: np.ndarray, sizes: np.ndarray, threshold: float) -> np.ndarray:
    starts = np.flatnonzero(differs(keys))
    shared = np.diff(np.concatenate([starts, [len(keys)]]))
    a, b = np.divmod(keys[starts], len(sizes))
    hit = shared > threshold * np.minimum(sizes[a], sizes[b])
    return np.stack([a[hit], b[hit]], axis=1)


def group_near_duplicates(docs: list[list[str]], n: int = 8, threshold: float = 0.5) -> list[int]:
    """Group id for every document; near-duplicates (and their chains) share one id."""
    return groups_of_ids(*word_ids(docs), n, threshold)


def groups_of_ids(ids: np.ndarray, offsets: np.ndarray, n: int = 8, threshold: float = 0.5) -> list[int]:
    """``group_near_duplicates`` of documents given as word ids (see ``shingles``): the connected
    components of the near-duplicate pairs, numbered in the order of their first document."""
    documents = len(offsets) - 1
    pairs = near_duplicate_pairs(ids, offsets, n, threshold)  # (P, 2)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(documents, documents))
    _, labels = connected_components(graph, directed=False)  # (D,)
    _, first, of_doc = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)  # each component's rank by its first document
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[of_doc].tolist()


def split_groups(groups: list[int], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Shuffle groups with ``seed`` and fill train, then val, then test, by document count: a
    group goes to the side whose share its middle document falls into."""
    labels = np.asarray(groups, np.int64)  # (D,)
    distinct, first, of_doc = np.unique(labels, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")  # (G,) groups in the order of their first document
    sizes = np.bincount(of_doc, minlength=len(distinct))[by_first]  # (G,)
    order = np.random.default_rng(seed).permutation(len(distinct))  # (G,) positions in that order
    placed = np.cumsum(sizes[order]) - sizes[order]  # (G,) documents placed before each
    bounds = np.cumsum(fractions) * len(labels)
    side = np.minimum(np.searchsorted(bounds, placed + sizes[order] / 2, side="right"), len(SIDES) - 1)  # (G,)
    side_of = np.empty(len(distinct), np.int64)  # (G,) by the rank of the group's label
    side_of[by_first[order]] = side
    of_side = side_of[of_doc]  # (D,)
    return Split(*(tuple(np.flatnonzero(of_side == k).tolist()) for k in range(len(SIDES))), groups=tuple(labels.tolist()))


def grouped_split(docs: list[list[str]], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """The honest split: near-duplicate groups, then whole groups per side."""
    return split_groups(group_near_duplicates(docs), fractions, seed)
