import numpy as np
import pytest

from patentgen.windows import Windows, classic_starts, count_targets, every_position_chunks, windows_split


def _docs():
    return [np.arange(2, 14, dtype=np.int32), np.arange(20, 25, dtype=np.int32)]  # 12 and 5 ids


def test_every_position_chunks_line_up_and_pad_right():
    chunks = every_position_chunks(_docs(), window=4)
    assert chunks.shape == (4, 5) and chunks.dtype == np.int32
    assert chunks[0].tolist() == [2, 3, 4, 5, 6] and chunks[1].tolist() == [6, 7, 8, 9, 10]
    assert chunks[2].tolist() == [10, 11, 12, 13, 0]
    assert chunks[3].tolist() == [20, 21, 22, 23, 24]
    # every id but the first of each document is a target exactly once
    assert count_targets(chunks) == (12 - 1) + (5 - 1)


def test_classic_windows_predict_the_next_word():
    flat, starts = classic_starts(_docs(), window=4)
    assert len(starts) == (12 - 4) + (5 - 4)
    for s in starts:
        window = flat[s : s + 5]
        assert np.all(np.diff(window) == 1)  # never crosses a document boundary


def test_datasets_give_integer_targets_of_the_right_shape():
    windows = Windows.from_docs(_docs(), window=4)
    x, y = next(iter(windows.dataset("lstm", batch_size=3)))
    assert x.shape == (3, 4) and y.shape == (3, 4) and y.dtype.name == "int32"
    assert np.array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
    x, y = next(iter(windows.dataset("classic", batch_size=2, seed=0)))
    assert x.shape == (2, 4) and y.shape == (2,)
    assert np.array_equal(y.numpy(), x.numpy()[:, -1] + 1)


def test_windows_split_is_60_10_30_and_disjoint():
    docs = [np.arange(2, 200, dtype=np.int32)]
    train, val, test = windows_split(docs, window=4, seed=0)
    sizes = [len(w.starts) for w in (train, val, test)]
    assert sum(sizes) == 194 and [abs(n - share * 194) < 1 for n, share in zip(sizes, (0.6, 0.1, 0.3))] == [True] * 3
    sides = [set(w.starts) for w in (train, val, test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])  # nothing reported was fitted on
    assert sum(len(w.chunks) for w in (train, val, test)) == len(Windows.from_docs(docs, 4).chunks)


class _Uniform:
    """A stand-in network giving every word the same logit: its closed CE is log V."""

    arch = "classic"

    def __init__(self, size):
        self.vocab_size = size

    def last_logits(self, ids):
        return np.zeros((len(ids), self.vocab_size))


def test_windows_split_carries_spellings_for_the_open_vocabulary_score(abstracts):
    from patentgen import evaluate, pipeline
    from patentgen.config import TrainConfig
    from patentgen.tokenizer import UNK_ID

    prepared = pipeline.prepare(TrainConfig(split="windows", window=10, embeddings="learned"), abstracts)
    val = prepared.windows["test"]
    unk = val.flat == UNK_ID
    assert unk.any() and np.all(val.spelling[unk] < 0) and np.all(val.spelling[~unk] == 0)
    found = evaluate.evaluate_windows(_Uniform(len(prepared.tokenizer.vocab)), val)["full_context"]
    assert found["ce"] == pytest.approx(np.log(len(prepared.tokenizer.vocab)), abs=1e-4)
    assert np.isfinite(found["open_ce"]) and found["open_ce"] > found["ce"]  # the <unk> targets pay for their spelling
