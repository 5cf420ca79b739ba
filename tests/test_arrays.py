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
