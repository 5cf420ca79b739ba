"""The large-array primitives give numpy's own answers, bit for bit, on both sides of the size
where they switch from numpy's calls to their own (``arrays._SMALL``)."""

from __future__ import annotations

import numpy as np
import pytest

from patentgen import arrays

SIZES = (0, 1, 1000, arrays._SMALL + 1, 3 * arrays._SMALL)


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("spread", [50, 10**6, 2**40])
def test_unique_is_numpys(count, spread):
    values = np.random.default_rng(count + spread).integers(0, spread, count, dtype=np.int64)
    want = np.unique(values, return_index=True, return_inverse=True, return_counts=True)
    got = arrays.unique(values.copy())
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert got[2].dtype == np.int32 and got[0].dtype == np.int64


def test_unique_of_values_too_wide_to_pack_falls_back_to_numpy():
    values = np.random.default_rng(0).integers(2**60, 2**62, arrays._SMALL + 5, dtype=np.int64)  # 62 + 19 bits > 64
    distinct, _, inverse, _ = arrays.unique(values.copy())
    assert np.array_equal(distinct[inverse], values)
    assert np.array_equal(distinct, np.unique(values))


@pytest.mark.parametrize("count", SIZES)
def test_index_finds_present_queries_and_only_those(count):
    rng = np.random.default_rng(count)
    table = np.unique(rng.integers(0, 4 * count + 10, 2 * count + 5, dtype=np.int64))  # sorted, distinct
    queries = rng.integers(-3, 4 * count + 20, count, dtype=np.int64)  # negatives, absent and present values
    got = arrays.index(table, queries)
    at = np.searchsorted(table, queries)
    want = np.where((at < len(table)) & (table[np.minimum(at, len(table) - 1)] == queries), at, -1)
    assert np.array_equal(got, want)
    assert count < 100 or (0 < (got >= 0).sum() < count)  # both outcomes occur


def test_one_scratch_serves_calls_of_different_sizes_and_writes_the_inverse_where_asked(monkeypatch):
    monkeypatch.setattr(arrays, "_CHUNK", 1000)  # several chunks per call
    rng = np.random.default_rng(5)
    scratch = arrays.Scratch(3 * arrays._SMALL)
    for count in (3 * arrays._SMALL, arrays._SMALL + 7, 2 * arrays._SMALL):  # the work arrays hold the last call's leftovers
        values = rng.integers(0, count // 3, count, dtype=np.int64)
        want = np.unique(values, return_index=True, return_inverse=True, return_counts=True)
        inverse = np.full(count, -1, np.int32)
        distinct, first, got, counts = arrays.unique(values.copy(), scratch, inverse=inverse, counts=False)
        assert got is inverse and counts is None
        assert all(np.array_equal(a, b) for a, b in zip((distinct, first, inverse), want[:3]))


def test_unique_with_scratch_answers_in_the_callers_arrays_and_counts_as_numpy(monkeypatch):
    monkeypatch.setattr(arrays, "_CHUNK", 1000)  # compaction and run lengths over many chunks
    values = np.random.default_rng(6).integers(0, 40000, 3 * arrays._SMALL, dtype=np.int64)
    want = np.unique(values, return_index=True, return_inverse=True, return_counts=True)
    scratch, given = arrays.Scratch(len(values)), values.copy()
    distinct, first, inverse, counts = arrays.unique(given, scratch)
    assert all(np.array_equal(a, b) for a, b in zip((distinct, first, inverse, counts), want))
    assert np.shares_memory(distinct, given) and np.shares_memory(first, scratch.low) and np.shares_memory(counts, scratch.runs)
    alone = arrays.unique(values.copy())  # without a scratch: arrays of their own, numpy's count dtype
    assert alone[3].dtype == np.int64 and not np.shares_memory(alone[0], values)


@pytest.mark.parametrize("where", [False, True])
def test_tally_counts_sorted_values_across_chunks_into_place(monkeypatch, where):
    monkeypatch.setattr(arrays, "_CHUNK", 7)  # runs cut by chunk ends
    rng = np.random.default_rng(1)
    values = np.sort(rng.choice(np.r_[0:5, 9, 40:43, 99], 200))  # gaps, and the largest value 99
    into = rng.permutation(100) if where else None
    out = np.full(100, 3, np.int32)
    arrays.tally(values, out, into)
    want = np.full(100, 3)
    want[into if where else slice(None)] += np.bincount(values, minlength=100)
    assert np.array_equal(out, want)


def test_spans_cover_every_run_once_in_groups_of_about_a_chunk(monkeypatch):
    monkeypatch.setattr(arrays, "_CHUNK", 10)
    lengths = np.array([0, 3, 0, 0, 25, 4, 4, 4, 0] + [0] * 30 + [1, 9, 2])  # a run over a chunk, many empty ones
    bounds = np.r_[0, np.cumsum(lengths)]
    groups = list(arrays.spans(bounds))
    assert groups[0][0] == 0 and groups[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in zip(groups, groups[1:]))
    for first, stop in groups:
        assert stop - first <= 10 and (bounds[stop] - bounds[first] <= 10 or stop == first + 1)
    assert list(arrays.spans(np.zeros(1, np.int64))) == []


def test_running_count_and_bincount_carry_across_chunks(monkeypatch):
    monkeypatch.setattr(arrays, "_CHUNK", 5)
    rng = np.random.default_rng(2)
    flags = rng.random(23) < 0.4
    assert np.array_equal(arrays.running_count(flags, np.empty(23, np.int32)), np.cumsum(flags) - 1)
    ids = rng.integers(0, 9, 23, dtype=np.int32)
    assert np.array_equal(arrays.bincount(ids, 12), np.bincount(ids, minlength=12))
