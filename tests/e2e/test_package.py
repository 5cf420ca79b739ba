"""The package as users meet it outside the scripts: ``patentgen.load()``, the console-script
names, the data folders an installed patentgen searches, and where it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import patentgen
from conftest import ROOT
from patentgen import cli, config, deps, generation, runs
from patentgen.commands import generate
from patentgen.errors import UserError


@pytest.fixture(scope="module")
def shipped():
    return patentgen.load()


def test_load_defaults_to_the_shipped_model_and_writes_what_generate_py_writes(shipped, capsys):
    assert shipped.path == config.DEFAULT_MODEL_DIR == ROOT / "models" / "default"
    text = shipped.generate("a method for", words=12, random_seed=3)
    assert cli.run(generate.main, ["--seed", "a method for", "--words", "12", "--random-seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == text
    assert text.startswith("A method for") and len(text.split()) >= 12


def test_generate_takes_the_sampler_options_and_gives_a_list_for_several_samples(shipped):
    samples = shipped.generate("a neural network", words=8, samples=3, random_seed=1)
    assert isinstance(samples, list) and len(samples) == 3 and all(s.startswith("A neural network") for s in samples)
    assert samples == shipped.generate("a neural network", words=8, samples=3, random_seed=1)
    greedy = {shipped.generate("a neural network", words=8, diversity=0, random_seed=seed) for seed in range(3)}
    assert len(greedy) == 1  # diversity 0 is greedy: the random seed changes nothing
    top1 = shipped.generate("a neural network", words=8, top_k=1, random_seed=5)
    assert top1 == greedy.pop()  # top-k 1 draws the most likely word, as greedy does
    assert shipped.generate("", words=5, random_seed=1)  # empty seed: an abstract from its beginning


@pytest.mark.parametrize(
    "kwargs, message",
    [({"words": 0}, "words must be a whole number"), ({"samples": 1.5}, "samples must be a whole number"),
     ({"seed": 3}, "seed must be text"), ({"diversity": -1}, "^diversity must be"), ({"top_k": 2**1024 - 1}, "^top_k must be a whole number"), ({"top_q": 0.5}, "unknown sampler option"),
     ({"top_k": 5, "top_p": 0.9}, "choose one of"), ({"full": True, "top_k": 5}, "^full means no filter")],
)
def test_bad_arguments_raise_a_user_error_that_says_what_to_do(shipped, kwargs, message):
    with pytest.raises(UserError, match=message):
        shipped.generate(**{"seed": "a method", **kwargs})


def test_score_and_neighbours_are_generations(shipped):
    score = shipped.score("a neural network is trained")
    assert score.words == ["a", "neural", "network", "is", "trained"] and score.total < 0 and score.perplexity > 1
    assert score.logprobs == generation.score_text(shipped.run, "a neural network is trained").logprobs
    found = shipped.neighbours("neuron", k=3)
    assert len(found) == 3 and all(isinstance(w, str) and -1 <= s <= 1 for w, s in found)
    with pytest.raises(UserError, match="not in the model's vocabulary"):
        shipped.neighbours("qwzxv")


def test_scores_are_plain_floats_and_both_spellings_of_neighbours_work(shipped):
    score = shipped.score("a neural network")
    assert all(type(p) is float for p in score.logprobs) and "np.float64" not in repr(score)
    assert shipped.neighbors("neuron", k=4) == shipped.neighbours("neuron", k=4)


def test_hugging_face_names_temperature_and_stop_words(shipped):
    base = shipped.generate("a method for", words=7, samples=2, random_seed=2)
    assert shipped.generate("a method for", max_new_tokens=7, num_return_sequences=2, random_seed=2) == base
    greedy = shipped.generate("a method for", temperature=0, words=9, random_seed=3)  # the seed spells any <unk> alike
    assert greedy == shipped.generate("a method for", diversity=0, words=9, random_seed=3)
    assert shipped.generate("a method for", temperature=0, words=9) != shipped.generate("a method for", words=9, random_seed=1)
    for kwargs, message in [({"words": 5, "max_new_tokens": 5}, "words and max_new_tokens are the same setting"),
                            ({"diversity": 1, "temperature": 1}, "diversity and temperature are the same setting")]:
        with pytest.raises(UserError, match=message):
            shipped.generate("a", **kwargs)
    sentence = shipped.generate("a method for", words=300, stop=".", random_seed=4)
    assert sentence.endswith(".") and sentence.count(".") == 1 and len(sentence.split()) < 300


def test_load_checks_the_folder(tmp_path):
    with pytest.raises(UserError, match="not found"):
        patentgen.load(tmp_path / "nothing")
    assert "Generator(" in repr(patentgen.load(str(ROOT / "models" / "default")))


def test_importing_the_package_imports_no_third_party_module():
    code = "import sys, patentgen, patentgen.commands.train, patentgen.commands.generate; print(sorted({'numpy', 'tensorflow', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_console_script_names_in_usage_and_hints(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/patentgen-train"])
    assert cli.prog("train.py") == "patentgen-train"
    assert deps.command("train.py", "--out", "models/x", "--resume") == "patentgen-train --out models/x --resume"
    monkeypatch.setattr(sys, "argv", ["train.py"])
    assert cli.prog("train.py") == "train.py" and deps.command("train.py", "--resume").endswith("train.py --resume")
    names = {line.split("=")[0].strip() for line in (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1].split("\n\n")[0].splitlines()[1:]}
    assert names == {f"patentgen-{n}" for n in ("train", "generate", "game", "serve", "evaluate")}


def test_the_data_folders_in_order_and_patentgen_data_first(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    folders = config.data_folders()
    assert folders[:2] == [ROOT / "data", tmp_path / "xdg" / "patentgen" / "data"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / config.PATENTS_FILE).write_text("patent_abstract\nA method.\n")
    monkeypatch.setenv(config.DATA_ENV, str(mine))
    assert config.data_folders()[0] == mine and config.default_data() == mine / config.PATENTS_FILE


def test_a_run_finds_its_corpus_by_name_in_patentgen_data(tiny_run, corpus_csv, tmp_path, monkeypatch):
    """As for the shipped model of an installed wheel: the recorded path is not there."""
    run_dir = tmp_path / "moved"
    shutil.copytree(tiny_run[0], run_dir)
    settings = json.loads((run_dir / "config.json").read_text())
    settings["data"] = "/nowhere/" + corpus_csv.name
    (run_dir / "config.json").write_text(json.dumps(settings))
    run = runs.load_inference(run_dir)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path / "empty"))
    with pytest.raises(UserError, match=f"corpus {tmp_path / 'empty' / corpus_csv.name} not found; .* set PATENTGEN_DATA"):
        runs.corpus_texts(run)
    monkeypatch.setenv(config.DATA_ENV, str(corpus_csv.parent))
    assert len(runs.corpus_texts(run)) == len(runs.corpus_texts(run, str(corpus_csv))) > 0


def test_train_writes_into_models_of_the_checkout_never_into_the_package(tmp_path):
    from patentgen.commands import train

    assert config.CHECKOUT and config.models_dir() == ROOT / "models"
    assert train.parse(["--embeddings", "learned"])[1] == ROOT / "models" / "lstm-learned"
    assert not config.shipped(ROOT / "models" / "default")  # in a checkout, the shipped model is the repository's


def test_missing_default_corpus_names_patentgen_data(tmp_path):
    result = subprocess.run([sys.executable, "train.py", "--data", str(tmp_path / "none.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "PATENTGEN_DATA" in result.stderr and len(result.stderr.strip().splitlines()) == 1
