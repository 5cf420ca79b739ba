"""train.py --init-from: fine-tuning a run on another corpus keeps its vocabulary and
architecture and starts from its weights; settings that would change them are refused."""

import json

import numpy as np
import pytest

from conftest import make_abstract, run_script, write_csv

FT = ["--epochs", "1", "--batch-size", "8", "--quiet"]


@pytest.fixture(scope="module")
def other_csv(tmp_path_factory):
    rng = np.random.default_rng(11)
    texts = [make_abstract(rng) + " A quantum widget holds the charge." for _ in range(40)]
    return write_csv(tmp_path_factory.mktemp("other") / "other.csv", texts)


def test_fine_tuning_starts_from_the_run_and_keeps_its_vocabulary(tiny_run, other_csv, tmp_path):
    source, _ = tiny_run
    out = tmp_path / "tuned"
    # a learning rate of 1e-9: Adam moves each weight by about that much a step, so the saved weights
    # must be the source run's to within 1e-6 (a model started afresh differs by ~0.1)
    result = run_script("train.py", "--data", str(other_csv), "--init-from", str(source), "--out", str(out), "--learning-rate", "1e-9", *FT)
    assert result.returncode == 0, result.stderr[-2000:]
    with np.load(source / "weights.npz") as before, np.load(out / "weights.npz") as after:
        assert before.files == after.files and all(np.allclose(before[k], after[k], rtol=0, atol=1e-6) for k in before.files)
    tokenizer = lambda run: json.loads((run / "tokenizer.json").read_text())["vocab"]  # noqa: E731
    assert tokenizer(out) == tokenizer(source)
    config, source_config = (json.loads((run / "config.json").read_text()) for run in (out, source))
    assert config["init_from"] == str(source.resolve()) and config["corpus_sha256"] != source_config["corpus_sha256"]
    assert {k: config[k] for k in ("arch", "units", "layers", "window", "tie_embeddings")} == {k: source_config[k] for k in ("arch", "units", "layers", "window", "tie_embeddings")}
    assert f"kept from {source.resolve()}" in result.stdout and "quantum" not in tokenizer(out)
    assert json.loads((out / "metrics.json").read_text())["test"]["full_context"]["unk_share"] > 0  # the new words are <unk>


@pytest.mark.parametrize(
    "args, message",
    [
        (["--units", "9"], "--units cannot change with --init-from"),
        (["--window", "5", "--arch", "classic"], "--window, --arch cannot change with --init-from"),
        (["--glove-file", "x.txt"], "--glove-file cannot change"),
        (["--init-from", "MISSING"], "does not exist; pass a run folder"),
        (["--init-from", "FILE"], "is a file; pass a run folder"),
    ],
)
def test_fine_tuning_refuses_what_it_cannot_keep(tiny_run, other_csv, tmp_path, args, message):
    source, _ = tiny_run
    swap = {"MISSING": str(tmp_path / "none"), "FILE": str(source / "weights.npz")}
    args = [swap.get(a, a) for a in args]
    if "--init-from" not in args:
        args += ["--init-from", str(source)]
    result = run_script("train.py", "--data", str(other_csv), "--out", str(tmp_path / "x"), *args, *FT)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_fine_tuning_a_numpy_rnn_run_is_refused(tmp_path, corpus_csv):
    rnn = tmp_path / "rnn"
    rnn.mkdir()
    (rnn / "config.json").write_text(json.dumps({"arch": "numpy-rnn", "corpus": "reddit"}))
    result = run_script("train.py", "--data", str(corpus_csv), "--init-from", str(rnn), "--out", str(tmp_path / "x"), *FT)
    assert result.returncode == 2 and "is a numpy-rnn run; fine-tuning works with the Keras architectures" in result.stderr
