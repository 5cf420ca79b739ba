"""Distinct values and lookups on large integer arrays, with memory access that stays cheap as
they grow.

Owns the array primitives that the Kneser-Ney counts and scores (``ngram``) run on millions of
n-grams, and the run test the near-duplicate grouping (``split``) shares. ``np.unique`` with an
inverse (an argsort, then gathers and a scatter in random order) and a binary search per query
of an array much larger than the processor's cache cost more per element as the arrays grow
(cache and TLB misses). Here:

* ``unique``: ``np.unique`` with first occurrences, inverse and counts, by sorting (value,
  position) packed into one uint64 in place, where both fit, rather than an argsort and gathers;
* ``index``: where each query is in a sorted array of distinct values, searched once per
  distinct query and in sorted order, so that neighbouring searches touch neighbouring memory.

Same results as numpy's, bit for bit (tested); only the memory access pattern differs.
"""

from __future__ import annotations

import numpy as np

_SMALL = 1 << 18  # fewer values than this: numpy's own, the overheads would dominate


def differs(values: np.ndarray) -> np.ndarray:
    """Whether each element differs from the one before it (the first does)."""
    flags = np.ones(len(values), bool)
    flags[1:] = values[1:] != values[:-1]
    return flags


def unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(values, return_index=True, return_inverse=True, return_counts=True)`` of
    non-negative int64 ``values`` (N,): the sorted distinct values (U,), where each first
    occurs (U,), each value's index among them (N,) and how often each occurs (U,); indices
    int32 where that holds them (half the memory traffic). ``values`` is scratch space: its
    contents are lost."""
    count = len(values)
    kind = np.int32 if count < 2**31 else np.int64
    position_bits = max(int(count - 1).bit_length(), 1)
    if count <= _SMALL or int(values.max(initial=0)).bit_length() + position_bits > 64:
        distinct, first, inverse, counts = np.unique(values, return_index=True, return_inverse=True, return_counts=True)
        return distinct, first.astype(kind), inverse.astype(kind), counts
    packed = values.view(np.uint64)  # (N,) value, then position, in place
    packed <<= np.uint64(position_bits)
    positions = np.arange(count, dtype=np.uint64)  # (N,)
    packed |= positions
    packed.sort()
    np.bitwise_and(packed, np.uint64((1 << position_bits) - 1), out=positions)  # where each sorted value was
    packed >>= np.uint64(position_bits)  # the values, sorted
    starts = differs(packed)  # (N,) where a distinct value's run begins
    ranks = np.cumsum(starts, dtype=kind)  # (N,) 1 + index among the distinct values
    ranks -= 1
    inverse = np.empty(count, kind)
    inverse[positions.view(np.int64)] = ranks
    del ranks
    begins = np.flatnonzero(starts)  # (U,)
    counts = np.diff(begins, append=count)
    return values[begins], positions[begins].astype(kind), inverse, counts


def _found(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    at = np.searchsorted(sorted_values, queries)  # (B,)
    found = at < len(sorted_values)
    found[found] = sorted_values[at[found]] == queries[found]
    return np.where(found, at, -1)


def index(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Where each query (B,) is in the sorted distinct non-negative ``sorted_values``, -1 where
    absent (a negative query always is); (B,). A large batch is searched once per distinct
    query, in sorted order, so that each search starts near where the last one ended."""
    if len(queries) <= _SMALL or len(sorted_values) <= _SMALL:
        return _found(sorted_values, queries)
    keep = queries >= 0
    distinct, _, inverse, _ = unique(queries[keep])  # (Q,), (kept,): a copy, so scratch
    result = np.full(len(queries), -1, np.int64)
    result[keep] = _found(sorted_values, distinct)[inverse]
    return result
