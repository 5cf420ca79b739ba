"""Shared fixtures: a small synthetic patent corpus and a Stanford-format GloVe file, both
written into a temporary folder, so the suite needs no download and no ../shared."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Prepared corpora go to a fresh folder of this test session, not the user's cache (subprocesses inherit it).
os.environ["PATENTGEN_CACHE"] = tempfile.mkdtemp(prefix="patentgen-test-cache-")
ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
TIERS = ("unit", "e2e", "web")  # tests/unit is what `pytest -q` runs (pytest.ini); the others get their folder's marker


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items):
    """Mark every test of tests/e2e ``e2e`` and of tests/web ``web``; a test file outside the tier
    folders is refused, so that none is left out of its tier's run."""
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.path.relative_to(ROOT)}: test files go in tests/unit, tests/e2e or tests/web")
        if tier != "unit":
            item.add_marker(tier)

SUBJECTS = ["a neural network", "the processor", "an input layer", "a training unit", "the controller", "a sensor array"]
VERBS = ["receives", "computes", "stores", "adjusts", "outputs", "compares"]
OBJECTS = ["a weight matrix", "the error signal", "an output value", "the input data", "a hidden state", "the learning rate"]
TAILS = [", and", "; wherein", ". The", ". Each", ", which"]
# Terms of art, one per abstract (40 for 60 abstracts): rare in training, some never seen there,
# and repeated inside every third abstract, as patents repeat theirs (the open-vocabulary tests).
TERMS = [a + b for a in ("quor", "vel", "zint", "brax", "mol") for b in ("ex", "ium", "ode", "ant", "ix", "or", "yl", "en")]


def make_abstract(rng: np.random.Generator, sentences: int = 8) -> str:
    parts = []
    for _ in range(sentences):
        parts.append(f"{rng.choice(SUBJECTS)} ({rng.integers(10, 99)}) {rng.choice(VERBS)} {rng.choice(OBJECTS)}")
        parts.append(str(rng.choice(TAILS)))
    return " ".join(parts) + " end."


def write_csv(path: Path, texts: list[str], column: str = "patent_abstract") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([column, "patent_number"])
        for i, text in enumerate(texts):
            writer.writerow([text, 1000 + i])
    return path


@pytest.fixture(scope="session")
def abstracts() -> list[str]:
    rng = np.random.default_rng(7)
    texts = [make_abstract(rng) for _ in range(60)]
    for i, term in enumerate(TERMS[i % len(TERMS)] for i in range(60)):
        texts[i] += f" The {term} stores the weight matrix." + (f" Each {term} computes an output value." if i % 3 == 0 else "")
    texts += [texts[0], texts[1] + " It also learns."]  # an exact and a near duplicate
    return texts


@pytest.fixture(scope="session")
def corpus_csv(tmp_path_factory, abstracts) -> Path:
    return write_csv(tmp_path_factory.mktemp("corpus") / "patents.csv", abstracts)


@pytest.fixture(scope="session")
def glove_txt(tmp_path_factory) -> Path:
    rng = np.random.default_rng(3)
    words = ["a", "the", "neural", "network", "processor", "input", "layer", "weight", "matrix", ".", ","]
    path = tmp_path_factory.mktemp("glove") / "glove.tiny.6d.txt"
    path.write_text("".join(f"{w} " + " ".join(f"{v:.4f}" for v in rng.normal(size=6)) + "\n" for w in words))
    return path


def run_script(*args: str, timeout: int = 300, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a project script in a subprocess from the repository root, ``stdin`` as its input,
    ``env`` added to the environment."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0", **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)


def unigram_ce(run_dir: Path) -> float:
    """Test cross-entropy (50-word-context targets) of a unigram model fitted on the training side
    of the run's own split and vocabulary: the floor that any trained model must get below."""
    from patentgen import evaluate, ngram, runs
    from patentgen.windows import Windows

    run = runs.load_inference(run_dir)
    ids = {side: [np.asarray(run.tokenizer.document_ids(d), np.int32) for d in runs.split_tokens(run, side)] for side in ("train", "test")}
    test = Windows.from_docs(ids["test"], run.config["window"])
    return evaluate.full_context(ngram.Unigram(ids["train"], len(run.tokenizer)), test.flat, test.starts, test.window)["ce"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tiny_run, corpus_csv, db: Path, *extra: str, host: str = "127.0.0.1"):
    """serve.py on a free port, up and answering: (process, base URL)."""
    port = free_port()
    args = ["serve.py", "--model", str(tiny_run[0]), "--data", str(corpus_csv), "--db", str(db), "--port", str(port),
            "--seed-words", str(GAME_RULES["seed_words"]), "--host", host, *extra]
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/stats", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"serve.py did not start: {proc.communicate()}")
            time.sleep(0.2)


LIGHT_DROPOUT = ["--dropout", "0.3", "--input-dropout", "0"]  # a model of 8 units learns little under the default's dropout
TINY_TRAIN = ["--epochs", "2", "--units", "8", "--window", "10", "--batch-size", "8", "--quiet"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, corpus_csv, glove_txt):
    """A run folder trained in seconds on the fixture corpus: (path, train.py's result)."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_script("train.py", "--data", str(corpus_csv), "--glove-file", str(glove_txt), "--out", str(out), *TINY_TRAIN,
                        *LIGHT_DROPOUT)
    assert result.returncode == 0, result.stderr
    return out, result


GAME_RULES = {"seed_words": 10, "min_words": 30, "max_words": 40}  # the fixture abstracts are ~70 words


@pytest.fixture(scope="session")
def tiny_game(tiny_run, corpus_csv):
    """(loaded run, a Game over its test abstracts) for the game and web tests."""
    from patentgen import game, runs

    run = runs.load_inference(tiny_run[0])
    return run, game.from_run(run, game.Rules(**GAME_RULES), str(corpus_csv))
