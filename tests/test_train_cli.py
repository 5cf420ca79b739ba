"""train.py and patentgen.evaluate from the command line: a tiny real run, and every bad input."""

import json

import pytest

from conftest import TINY_TRAIN as TINY
from conftest import run_script


@pytest.fixture()
def trained(tiny_run):
    return tiny_run


def test_run_folder_is_complete(trained):
    out, result = trained
    for name in ("model.keras", "weights.npz", "tokenizer.json", "config.json", "split.json", "metrics.json", "history.csv"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["window"] == 10 and len(config["corpus_sha256"]) == 64 and config["split_seed"] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    full = metrics["test"]["full_context"]
    assert full["targets"] > 0 and 0 < full["ce"] < 10 and 0 <= full["unk_share"] <= 1
    assert metrics["epochs"] == 2 and metrics["glove_coverage"]["found"] > 0
    assert "train" in result.stdout and "GloVe:" in result.stdout and "saved" in result.stdout
    assert not list(out.parent.glob(".tiny.*"))  # no staging folder left


def test_evaluate_command_reproduces_training_metrics(trained, corpus_csv):
    out, _ = trained
    result = run_script("-m", "patentgen.evaluate", "--model", str(out), "--data", str(corpus_csv))
    assert result.returncode == 0, result.stderr
    everything = json.loads(result.stdout)
    assert everything["full_context"]["targets"] > json.loads((out / "metrics.json").read_text())["test"]["full_context"]["targets"]
    result = run_script("-m", "patentgen.evaluate", "--model", str(out))
    expected = json.loads((out / "metrics.json").read_text())["test"]
    assert result.returncode == 0, result.stderr  # the run records its corpus path, so the test split is rebuilt
    assert json.loads(result.stdout) == expected


def test_existing_run_folder_needs_overwrite(trained, corpus_csv):
    out, _ = trained
    before = (out / "weights.npz").read_bytes()
    result = run_script("train.py", "--data", str(corpus_csv), "--out", str(out), *TINY)
    assert result.returncode == 2 and "already exists; pass --overwrite" in result.stderr
    assert (out / "weights.npz").read_bytes() == before


def _bad(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t, c: ["--data", str(t / "missing.csv")], "not found; pass --data"),
        (lambda t, c: ["--data", _bad(t, "cols.csv", b"title,year\nx,1\n")], "no text column"),
        (lambda t, c: ["--data", _bad(t, "empty.csv", b"patent_abstract\n")], "fewer than one"),
        (lambda t, c: ["--data", _bad(t, "short.csv", b"patent_abstract\nfew words only.\n")], "fewer than one"),
        (lambda t, c: ["--data", _bad(t, "latin.csv", b"patent_abstract\ncaf\xe9 neural\n")], "not UTF-8"),
        (lambda t, c: ["--data", str(c), "--glove-file", _bad(t, "g.txt", b"a 1 2\nb 1\n")], "values where earlier rows"),
        (lambda t, c: ["--data", str(c), "--glove-file", _bad(t, "g2.txt", b"a 1 x\n")], "not a number"),
        (lambda t, c: ["--data", str(c), "--embeddings", "word2vec"], "invalid choice: 'word2vec'"),
        (lambda t, c: ["--data", str(c), "--window", "0"], "must be at least 1"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, corpus_csv, make_args, message):
    out = tmp_path / "run"
    result = run_script("train.py", *make_args(tmp_path, corpus_csv), "--out", str(out), *TINY)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".run.*"))


def test_windows_split_reproduces_published_protocol(tmp_path, corpus_csv):
    out = tmp_path / "pub"
    result = run_script("train.py", "--data", str(corpus_csv), "--split", "windows", "--arch", "classic",
                        "--embeddings", "learned", "--out", str(out), *TINY)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert "70/30" in metrics["note"] and metrics["test"] == metrics["val"]
    assert "all_positions" not in metrics["test"]
