"""generate.py end to end on a tiny trained run: output, repeatability, scoring, bad input."""

import json
import shutil

import numpy as np
import pytest

from conftest import run_script
from patentgen import generation, runs
from patentgen.tokenizer import RESERVED


def gen(model, *args):
    return run_script("generate.py", "--model", str(model), *args)


def test_generates_the_requested_words_without_reserved_tokens(tiny_run):
    model, _ = tiny_run
    result = gen(model, "--seed", "a neural network", "--words", "40", "--diversity", "1.5", "--random-seed", "1")
    assert result.returncode == 0, result.stderr
    text = result.stdout.strip()
    assert text.startswith("A neural network")
    assert not any(tok in text for tok in RESERVED)
    run = runs.load_inference(model)
    cont = generation.continue_text(run, "a neural network", 40, np.random.default_rng(1), 1.5)
    assert len(cont.ids) == 40 and cont.text(run) == text


def test_same_random_seed_same_text_and_samples(tiny_run):
    model, _ = tiny_run
    args = ("--seed", "the processor", "--random-seed", "5", "--samples", "2", "--words", "12")
    first, second = gen(model, *args), gen(model, *args)
    assert first.returncode == 0 and first.stdout == second.stdout
    assert "[1]" in first.stdout and "[2]" in first.stdout


def test_unknown_seed_words_warn_and_empty_seed_starts_an_abstract(tiny_run):
    model, _ = tiny_run
    result = gen(model, "--seed", "a quantum banana", "--words", "5", "--random-seed", "0")
    assert result.returncode == 0 and "not in the vocabulary, read as <unk>: quantum, banana" in result.stderr
    result = gen(model, "--words", "5", "--random-seed", "0", "--diversity", "0")
    assert result.returncode == 0 and len(result.stdout.split()) >= 3


def test_random_shows_the_human_continuation(tiny_run, corpus_csv):
    model, _ = tiny_run
    result = gen(model, "--random", "--data", str(corpus_csv), "--words", "8", "--random-seed", "2")
    assert result.returncode == 0, result.stderr
    assert "seed:" in result.stdout and "human:" in result.stdout and "model 1" in result.stdout


def test_score_and_neighbors(tiny_run):
    model, _ = tiny_run
    result = gen(model, "--score", "a neural network stores the error signal.", "--json")
    assert result.returncode == 0, result.stderr
    scored = json.loads(result.stdout)
    assert [w["word"] for w in scored["words"]][:3] == ["a", "neural", "network"]
    assert all(w["logprob"] < 0 for w in scored["words"])
    assert scored["total_logprob"] == pytest.approx(sum(w["logprob"] for w in scored["words"]), abs=1e-3)
    result = gen(model, "--neighbors", "processor", "--json")
    found = json.loads(result.stdout)
    assert result.returncode == 0 and len(found) == 10 and "processor" not in [w for w, _ in found]
    assert found == sorted(found, key=lambda x: -x[1])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--diversity", "-1"], "must be a finite number >= 0"),
        (["--diversity", "nan"], "must be a finite number >= 0"),
        (["--diversity", "warm"], "is not a number"),
        (["--words", "0"], "must be at least 1"),
        (["--words", "20000"], "more than 10,000 words"),
        (["--top-k", "0"], "must be at least 1"),
        (["--top-p", "0"], "must be in (0, 1]"),
        (["--top-p", "1.5"], "must be in (0, 1]"),
        (["--neighbors", "zzzz"], "not in the model's vocabulary"),
    ],
)
def test_bad_flags(tiny_run, args, message):
    model, _ = tiny_run
    result = gen(model, *args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_missing_corrupt_and_mismatched_model_folders(tiny_run, tmp_path):
    model, _ = tiny_run
    result = gen(tmp_path / "nothing")
    assert result.returncode == 2 and "not found" in result.stderr
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "weights.npz").write_bytes(b"not a zip")
    result = gen(broken)
    assert result.returncode == 2 and "damaged" in result.stderr and "Traceback" not in result.stderr
    mismatched = tmp_path / "mismatched"
    shutil.copytree(model, mismatched)
    tok = json.loads((mismatched / "tokenizer.json").read_text())
    tok["vocab"].append("extra") ; tok["counts"].append(1)
    (mismatched / "tokenizer.json").write_text(json.dumps(tok))
    result = gen(mismatched)
    assert result.returncode == 2 and "does not match its tokenizer" in result.stderr


def test_trained_model_state_carrying_decode_equals_the_full_window(tiny_run):
    """The shipped decode path (numpy, one step per word) against Keras on the saved model.keras."""
    from patentgen.inference import log_softmax

    model, _ = tiny_run
    run = runs.load_inference(model)
    keras_model = runs.load_keras(model)
    _, ids = generation.seed_ids(run, "a neural network stores the error signal and")
    logits, state = run.lm.next_logits(ids[:3])
    for t in range(3, len(ids)):
        full = np.asarray(keras_model(np.asarray([ids[:t]], np.int32), training=False))[0, -1]
        assert np.abs(np.exp(log_softmax(logits)) - np.exp(log_softmax(full))).max() <= 1e-5
        logits, state = run.lm.next_logits([ids[t]], state)
