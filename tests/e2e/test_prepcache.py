"""The prepared-corpus cache: a second preparation of the same corpus and settings reads the
entry; another setting, another corpus or changed code is another entry; a damaged entry is
found, removed and rebuilt; --no-cache writes nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import TINY_TRAIN as TINY
from conftest import run_script, write_csv
from patentgen import corpus, pipeline, prepcache
from patentgen.config import TrainConfig
from patentgen.errors import UserError


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(prepcache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "prepared"


def _same(a: pipeline.Prepared, b: pipeline.Prepared) -> None:
    assert a.documents == b.documents and a.split == b.split
    assert a.tokenizer.to_json() == b.tokenizer.to_json()
    for side in ("train", "val", "test"):
        for name in prepcache.ARRAYS:
            x, y = getattr(a.windows[side], name), getattr(b.windows[side], name)
            assert (x is None) == (y is None) and (x is None or np.array_equal(x, y)), (side, name)


@pytest.mark.parametrize("split", ["grouped", "windows"])
def test_the_second_preparation_reads_the_cache_and_gives_the_same_corpus(cache, corpus_csv, split):
    cfg = TrainConfig(data=str(corpus_csv), window=10, split=split)
    first, _, origin = pipeline.prepare_corpus(cfg)
    assert origin == "built" and len(list(cache.iterdir())) == 1
    again, _, origin = pipeline.prepare_corpus(cfg)
    assert origin == "cache"
    _same(first, again)
    assert isinstance(again.windows["train"].chunks, np.memmap)  # memory-mapped, not read into memory
    if split == "windows":  # no held-out documents in the leaky protocol
        assert first.held_out is None and again.held_out is None
    else:  # the held-out documents, read back from the entry, are the split's own
        built = pipeline.prepare(cfg, corpus.read_texts(corpus_csv))
        for side in ("val", "test"):
            assert first.held_out[side] == again.held_out[side] == built.held_out[side]
            assert len(again.held_out[side]) == len(again.split.side(side))


def test_another_setting_or_corpus_is_another_entry(cache, corpus_csv, abstracts, tmp_path):
    cfg = TrainConfig(data=str(corpus_csv), window=10)
    pipeline.prepare_corpus(cfg)
    for changed in (replace(cfg, min_count=1), replace(cfg, split_seed=3), replace(cfg, window=8)):
        assert pipeline.prepare_corpus(changed)[2] == "built"
    other = write_csv(tmp_path / "other.csv", abstracts[:-1])
    assert pipeline.prepare_corpus(replace(cfg, data=str(other)))[2] == "built"
    assert len(list(cache.iterdir())) == 5
    assert pipeline.prepare_corpus(replace(cfg, min_count=1))[2] == "cache"


def test_changed_code_is_another_key(corpus_csv, monkeypatch):
    cfg = TrainConfig(data=str(corpus_csv), window=10)
    before = prepcache.key(cfg, "abc", True, None)
    monkeypatch.setattr(prepcache, "code_version", lambda: "another version of the code")
    assert prepcache.key(cfg, "abc", True, None) != before


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "remove a file", "garble meta"])
def test_a_damaged_entry_is_rebuilt_not_trusted(cache, corpus_csv, damage):
    cfg = TrainConfig(data=str(corpus_csv), window=10)
    first, _, _ = pipeline.prepare_corpus(cfg)
    (entry,) = cache.iterdir()
    target = entry / "train.chunks.npy"
    data = bytearray(target.read_bytes())
    if damage == "flip a byte":
        data[-1] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(bytes(data[:-8]))
    elif damage == "remove a file":
        target.unlink()
    else:
        (entry / "meta.json").write_text("{not json")
    again, _, origin = pipeline.prepare_corpus(cfg)
    assert origin == "rebuilt"
    _same(first, again)
    assert pipeline.prepare_corpus(cfg)[2] == "cache"  # the rebuilt entry is sound


def test_without_the_cache_nothing_is_written(cache, corpus_csv):
    cfg = TrainConfig(data=str(corpus_csv), window=10)
    assert pipeline.prepare_corpus(cfg, use_cache=False)[2] == "built"
    assert not cache.exists()


def test_train_py_reuses_the_cache_and_says_so(tmp_path, corpus_csv, glove_txt):
    env_cache = tmp_path / "cache"
    args = ["--data", str(corpus_csv), "--glove-file", str(glove_txt), *TINY]
    first = run_script("train.py", *args, "--out", str(tmp_path / "a"), env={prepcache.CACHE_ENV: str(env_cache)})
    second = run_script("train.py", *args, "--out", str(tmp_path / "b"), env={prepcache.CACHE_ENV: str(env_cache)})
    assert first.returncode == second.returncode == 0, second.stderr
    assert "documents, prepared in" in first.stdout and "from the prepared-corpus cache" in second.stdout
    metrics = [json.loads((tmp_path / run / "metrics.json").read_text())["test"]["full_context"] for run in "ab"]
    assert metrics[0] == metrics[1]  # the same corpus, the same seed: the same run
    third = run_script("train.py", *args, "--out", str(tmp_path / "c"), "--no-cache", env={prepcache.CACHE_ENV: str(tmp_path / "none")})
    assert third.returncode == 0 and "documents, prepared in" in third.stdout and not (tmp_path / "none").exists()


def test_training_batches_from_the_memory_mapped_entry_equal_the_built_ones(cache, corpus_csv):
    cfg = TrainConfig(data=str(corpus_csv), window=10)
    built, _, _ = pipeline.prepare_corpus(cfg)
    mapped, _, _ = pipeline.prepare_corpus(cfg)
    for arch in ("lstm", "classic"):
        pairs = zip(built.windows["train"].dataset(arch, 8, seed=1, epochs=2), mapped.windows["train"].dataset(arch, 8, seed=1, epochs=2))
        for (x1, y1), (x2, y2) in pairs:
            assert np.array_equal(x1, x2) and np.array_equal(y1, y2)


def test_bad_rows_are_reported_again_when_the_corpus_comes_from_the_cache(cache, abstracts, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [*abstracts, "", "NULL"])
    cfg = TrainConfig(data=str(path), window=10)
    _, notes, origin = pipeline.prepare_corpus(cfg)
    assert origin == "built" and len(notes) == 1 and "skipped 2 bad rows" in notes[0]
    _, again, origin = pipeline.prepare_corpus(cfg)
    assert origin == "cache" and again == notes


def _file_tokens(run, corpus_csv, side):
    from patentgen import corpus, runs

    texts = corpus.read_texts(corpus_csv)
    return [run.tokenizer.text_to_tokens(texts[i]) for i in runs.split_indices(run, side)]


def test_the_game_and_random_seeds_read_the_held_out_documents_from_the_cache(cache, tiny_run, corpus_csv, tmp_path, monkeypatch):
    from patentgen import corpus, runs

    run = runs.load_inference(tiny_run[0])
    expected = {side: _file_tokens(run, corpus_csv, side) for side in ("val", "test")}
    assert runs.split_tokens(run, "test", data=str(corpus_csv)) == expected["test"]  # builds the entry
    (entry,) = cache.iterdir()
    assert {"test.tokens.npy", "val.words.json"} <= {p.name for p in entry.iterdir()}
    monkeypatch.setattr(corpus, "read_texts", lambda *a, **k: pytest.fail("read the corpus file"))
    for side in ("val", "test"):  # the second start reads the entry, not the corpus
        assert runs.split_tokens(run, side, data=str(corpus_csv)) == expected[side]
    moved = tmp_path / "elsewhere.csv"
    moved.write_bytes(corpus_csv.read_bytes())
    assert runs.split_tokens(run, "test", data=str(moved)) == expected["test"]  # the same checksum: the same entry
    stranger = write_csv(tmp_path / "stranger.csv", ["another corpus altogether with words"] * 30)
    with pytest.raises(UserError, match="not the corpus this model was trained on"):  # no entry stands in for it
        runs.split_tokens(run, "test", data=str(stranger))
    monkeypatch.setitem(run.config, "data", str(tmp_path / "gone.csv"))  # no corpus file at all: the entry is enough
    assert runs.split_tokens(run, "test") == expected["test"]


def test_a_run_whose_split_differs_from_the_entry_is_refused_in_one_line(cache, tiny_run, corpus_csv, tmp_path):
    import shutil

    from patentgen import runs

    copy = tmp_path / "run"
    shutil.copytree(tiny_run[0], copy)
    split = json.loads((copy / "split.json").read_text())
    split["test"], split["train"] = split["test"][1:], split["train"] + split["test"][:1]
    (copy / "split.json").write_text(json.dumps(split))
    run = runs.load_inference(copy)
    with pytest.raises(UserError, match="the test split in .*split.json is not the one"):
        runs.split_tokens(run, "test", data=str(corpus_csv))
    assert runs.split_tokens(run, "train", data=str(corpus_csv)) == _file_tokens(run, corpus_csv, "train")
