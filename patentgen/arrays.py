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

A caller that makes many such calls on arrays of one size passes them a ``Scratch``: work arrays
allocated once and reused, because touching fresh memory costs far more than a pass over memory
already touched (the kernel zeroes and backs every new page), and numpy's arrays above glibc's
32 MB ``mmap`` threshold go back to the kernel when freed, so an array made in each call is
touched fresh in each call. For the same reason the counting helpers (``tally``, ``bincount``,
``running_count``) work a chunk at a time, where numpy's own would make a temporary of the
input's length.
"""

from __future__ import annotations

import numpy as np

_SMALL = 1 << 18  # fewer values than this: numpy's own, the overheads would dominate
_CHUNK = 1 << 20  # elements per step where a step needs a temporary


def differs(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Whether each element differs from the one before it (the first does), into ``out``
    (bool, the length of ``values``) when given."""
    flags = np.empty(len(values), bool) if out is None else out
    flags[:1] = True
    np.not_equal(values[1:], values[:-1], out=flags[1:])
    return flags


def _index_kind(count: int) -> type:
    return np.int32 if count < 2**31 else np.int64


class Scratch:
    """Work arrays for ``unique`` of up to ``size`` values, touched once and reused by every call
    that is given them."""

    def __init__(self, size: int):
        kind = _index_kind(size)
        self.low = np.empty(size, kind)  # (size,) where each sorted value was
        self.starts = np.empty(size, bool)  # (size,) where a distinct value's run begins
        self.runs = np.empty(size, kind)  # (size,) each sorted value's index among the distinct


def running_count(flags: np.ndarray, out: np.ndarray) -> np.ndarray:
    """How many of ``flags`` (N,) are set up to each position, itself included, less one, into
    integer ``out`` (N,); a chunk at a time (``np.cumsum`` with a dtype casts the whole input first)."""
    carry = -1
    for part in chunks(len(flags)):
        np.cumsum(flags[part], dtype=out.dtype, out=out[part])
        out[part] += carry
        carry = int(out[part.stop - 1])
    return out


def bincount(values: np.ndarray, size: int) -> np.ndarray:
    """``np.bincount(values, minlength=size)`` of non-negative ids below ``size`` (N,), a chunk at a
    time (numpy's casts the whole input to int64 first)."""
    counts = np.zeros(size, np.int64)  # (size,)
    for part in chunks(len(values)):
        counts += np.bincount(values[part], minlength=size)
    return counts


def chunks(count: int):
    """Slices of at most _CHUNK covering range(count): a temporary per chunk stays small enough
    for the allocator to reuse memory already touched (and for the processor's cache)."""
    return (slice(start, min(start + _CHUNK, count)) for start in range(0, count, _CHUNK))


def or_positions(packed: np.ndarray) -> np.ndarray:
    """ORs each element's position into uint64 ``packed`` (its low bits, which must be clear), in
    place, a chunk of positions at a time (no position array of the full length)."""
    for part in chunks(len(packed)):
        packed[part] |= np.arange(part.start, part.stop, dtype=np.uint64)
    return packed


def unique(values: np.ndarray, scratch: Scratch | None = None, inverse: np.ndarray | None = None,
           first: bool = True, counts: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """``np.unique(values, return_index=True, return_inverse=True, return_counts=True)`` of
    non-negative int64 ``values`` (N,): the sorted distinct values (U,), where each first
    occurs (U,), each value's index among them (N,, written into ``inverse`` when given) and how
    often each occurs (U,); indices int32 where that holds them (half the memory traffic).
    ``values`` is scratch space: its contents are lost. ``scratch``: work arrays of at least N;
    with them, the distinct values, first occurrences and counts may be views of ``values`` and
    of the work arrays (no new memory), valid until either is next written.
    ``first`` or ``counts`` False: None in its place, and its memory saved."""
    count = len(values)
    kind = _index_kind(count) if scratch is None else scratch.runs.dtype
    position_bits = max(int(count - 1).bit_length(), 1)
    if count <= _SMALL or int(values.max(initial=0)).bit_length() + position_bits > 64:
        distinct, firsts, where, many = np.unique(values, return_index=True, return_inverse=True, return_counts=True)
        if inverse is None:
            inverse = where.astype(kind)
        else:
            inverse[:] = where
        return distinct, firsts.astype(kind) if first else None, inverse, many if counts else None
    work = Scratch(count) if scratch is None else scratch
    low, starts, runs = work.low[:count], work.starts[:count], work.runs[:count]
    packed = values.view(np.uint64)  # (N,) value, then position, in place
    packed <<= np.uint64(position_bits)
    or_positions(packed).sort()
    mask = np.uint64((1 << position_bits) - 1)
    for part in chunks(count):
        low[part] = packed[part] & mask  # where each sorted value was
    packed >>= np.uint64(position_bits)  # the values, sorted
    differs(packed, out=starts)
    running_count(starts, runs)  # index among the distinct values
    if inverse is None:
        inverse = np.empty(count, kind)
    for part in chunks(count):
        inverse[low[part]] = runs[part]
    distinct = _compact(values, low if first else None, runs, starts)  # (U,), in place
    firsts = low[:len(distinct)] if first else None  # (U,)
    many = _run_lengths(runs[:len(distinct)], count) if counts else None  # (U,)
    if scratch is None:  # arrays of their own, not views of work arrays made for this call
        distinct = distinct.copy()
        firsts = None if firsts is None else firsts.copy()
        many = None if many is None else many.astype(np.int64)
    return distinct, firsts, inverse, many


def _compact(values: np.ndarray, low: np.ndarray | None, runs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Moves each run's first value (and its ``low``) to the front, in place, a chunk at a time,
    and writes where each run begins into ``runs``; the distinct values (U,), a view of
    ``values``. A run begins at or after its index among the runs, so a chunk only reads what no
    earlier chunk wrote."""
    found = 0
    for part in chunks(len(starts)):
        begins = np.flatnonzero(starts[part])  # (chunk's runs,)
        begins += part.start
        runs[found:found + len(begins)] = begins
        found += len(begins)
    for part in chunks(found):
        begins = runs[part]
        values[part] = values[begins]
        if low is not None:
            low[part] = low[begins]
    return values[:found]


def _run_lengths(begins: np.ndarray, count: int) -> np.ndarray:
    """How long each run is, from where each begins (U,) in ``count`` values, in place of
    ``begins``, a chunk at a time (a chunk reads the next one's first begin before it is written)."""
    for part in chunks(len(begins)):
        ends = np.empty(part.stop - part.start, begins.dtype)
        ends[:-1] = begins[part.start + 1:part.stop]
        ends[-1] = begins[part.stop] if part.stop < len(begins) else count
        np.subtract(ends, begins[part], out=begins[part])
    return begins


def tally(sorted_values: np.ndarray, out: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """Adds how often each value v occurs in the sorted non-negative ``sorted_values`` to
    ``out[v]`` (to ``out[where[v]]`` when given, ``where`` injective), a chunk at a time: a
    ``np.bincount`` without a table the size of the largest value."""
    for part in chunks(len(sorted_values)):
        chunk = sorted_values[part]
        low, high = int(chunk[0]), int(chunk[-1])
        many = np.bincount(chunk - low, minlength=high - low + 1)  # (high - low + 1,)
        if where is None:
            out[low:high + 1] += many
        else:
            out[where[low:high + 1]] += many
    return out


def spans(bounds: np.ndarray):
    """(first, stop) groups of consecutive runs, each run k ``bounds[k]:bounds[k + 1]`` of some
    array, covering all of them with about _CHUNK elements or runs per group (at least one run)."""
    first, groups = 0, len(bounds) - 1
    while first < groups:
        stop = int(np.searchsorted(bounds, bounds[first] + _CHUNK, "right")) - 1
        stop = min(max(stop, first + 1), first + _CHUNK, groups)
        yield first, stop
        first = stop


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
