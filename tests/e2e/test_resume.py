"""Resume: a run killed (SIGKILL) or stopped with Ctrl-C after a completed epoch continues with
--resume and ends with the same validation loss as an uninterrupted run; the run folder is never
half-written; bad resumes are one-line errors."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run_script
from patentgen import resume, runs
from patentgen.errors import UserError

# 6 epochs of a few hundred one-window batches: long enough to interrupt mid-run
ARGS = ["--embeddings", "learned", "--window", "10", "--units", "8", "--batch-size", "1", "--epochs", "6",
        "--dropout", "0.3", "--quiet"]


def train(corpus_csv, out, *extra):
    return run_script("train.py", "--data", str(corpus_csv), "--out", str(out), *ARGS, *extra)


def val_losses(out):
    metrics = json.loads((out / "metrics.json").read_text())
    return [row["val_loss"] for row in metrics["history"]], metrics["val"]["full_context"]["ce"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, corpus_csv):
    out = tmp_path_factory.mktemp("ref") / "run"
    result = train(corpus_csv, out)
    assert result.returncode == 0, result.stderr[-2000:]
    return val_losses(out)


def start_and_interrupt(corpus_csv, out, sig, after_epochs=2, extra=(), phase=""):
    """Start train.py, wait until ``after_epochs`` are backed up (in the ``phase`` folder of the
    staging folder: "" for training, ``resume.PRETRAIN``), send ``sig``; returns the process."""
    cmd = [sys.executable, "train.py", "--data", str(corpus_csv), "--out", str(out), *ARGS, *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    state = runs.partial_folder(out) / phase / "backup" / resume.STATE
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(state.read_text())["epoch"] >= after_epochs:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    return proc, stderr


def test_killed_run_resumes_to_the_same_validation_loss(tmp_path, corpus_csv, reference):
    out = tmp_path / "run"
    proc, _ = start_and_interrupt(corpus_csv, out, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and resume.has_backup(runs.partial_folder(out))

    fresh = train(corpus_csv, out)  # a plain rerun must not silently throw the saved epochs away
    assert fresh.returncode == 2 and "add --resume" in fresh.stderr.strip().splitlines()[-1]
    changed = train(corpus_csv, out, "--resume", "--units", "9")
    assert changed.returncode == 2 and "settings differ" in changed.stderr and "units 8 (saved) vs 9 (now)" in changed.stderr

    resumed = train(corpus_csv, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from 2 completed epochs" in resumed.stdout
    history, val_ce = val_losses(out)
    assert len(history) == 6
    assert history == pytest.approx(reference[0], abs=1e-4) and val_ce == pytest.approx(reference[1], abs=1e-4)
    assert not runs.partial_folder(out).exists()
    assert not {"backup", "settings.json", "best.weights.h5"} & {p.name for p in out.iterdir()}


def test_ctrl_c_says_how_to_resume_and_resuming_matches(tmp_path, corpus_csv, reference):
    out = tmp_path / "run"
    proc, stderr = start_and_interrupt(corpus_csv, out, signal.SIGINT, after_epochs=1)
    assert proc.returncode == 130 and "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    assert message.startswith("interrupted: stopped during training;") and "completed epoch" in message
    command = shlex.split(message.split("continue with: ", 1)[1])  # the exact command, with the Python that works
    assert command[1:] == ["train.py", "--data", str(corpus_csv), "--out", str(out), *ARGS, "--resume"]
    assert os.access(ROOT / command[0], os.X_OK) and (ROOT / command[0]).resolve() == Path(sys.executable).resolve()
    assert str(runs.partial_folder(out)) in message
    assert not out.exists() and resume.has_backup(runs.partial_folder(out))
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    history, val_ce = val_losses(out)
    assert history == pytest.approx(reference[0], abs=1e-4) and val_ce == pytest.approx(reference[1], abs=1e-4)


def test_resume_with_nothing_to_resume_is_an_error(tmp_path, corpus_csv):
    result = train(corpus_csv, tmp_path / "never", "--resume")
    assert result.returncode == 2 and "nothing to resume" in result.stderr and "without --resume" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_corrupt_backup_says_how_to_start_fresh_and_loses_nothing(tmp_path, corpus_csv):
    out = tmp_path / "run"
    backup = runs.partial_folder(out) / "backup"
    backup.mkdir(parents=True)
    (runs.partial_folder(out) / "settings.json").write_text("{}")
    (backup / resume.STATE).write_text('{"epoch": 2, "arrays": "epoch-2.npz"}')
    (backup / "epoch-2.npz").write_bytes(b"not a zip file")
    result = train(corpus_csv, out, "--resume")
    error = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and error.startswith("error:") and "Traceback" not in result.stderr
    assert "damaged" in error or "differ" in error
    assert (backup / "epoch-2.npz").exists()  # nothing deleted
    fresh = train(corpus_csv, out, "--overwrite", "--epochs", "1")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert (out / "metrics.json").exists() and not runs.partial_folder(out).exists()


def test_damaged_arrays_are_reported_by_the_loader(tmp_path):
    from patentgen.model import compile_model

    from patentgen.models import build_model

    model = compile_model(build_model(20, "lstm", embedding_dim=4, units=4, dropout=0.2), 0.01)
    model.optimizer.build(model.trainable_variables)
    resume.save(tmp_path, model, resume.Snapshot(epoch=1))
    (tmp_path / "epoch-1.npz").write_bytes(b"junk")
    with pytest.raises(UserError, match="damaged.*--overwrite"):
        resume.load(tmp_path, model)
    (tmp_path / "epoch-1.npz").unlink()
    with pytest.raises(UserError, match="incomplete"):
        resume.load(tmp_path, model)
    other = compile_model(build_model(21, "lstm", embedding_dim=4, units=4), 0.01)
    resume.save(tmp_path, model, resume.Snapshot(epoch=2))
    with pytest.raises(UserError, match="does not fit"):
        resume.load(tmp_path, other)


def test_snapshot_round_trip_restores_weights_optimizer_and_dropout_seeds(tmp_path):
    from patentgen.model import compile_model

    from patentgen.models import build_model

    def make():
        return compile_model(build_model(20, "lstm", embedding_dim=4, units=4, dropout=0.3), 0.01)

    model = make()
    x = np.random.default_rng(0).integers(1, 20, (8, 6)).astype("int32")
    model.fit(x[:, :-1], x[:, 1:], epochs=1, verbose=0)
    seeds = [v for v in model.variables if "seed_generator" in v.path]
    assert any(int(np.asarray(v.numpy())[1]) > 0 for v in seeds)  # dropout has advanced its seed state
    snap = resume.Snapshot(epoch=1, seconds=2.5, rows=[{"epoch": 1, "val_loss": 1.0}], callbacks={"early_stopping": {"wait": 1, "best": 0.5}})
    resume.save(tmp_path, model, snap)
    copy = make()
    loaded = resume.load(tmp_path, copy)
    assert loaded == snap
    for a, b in zip(model.variables + model.optimizer.variables, copy.variables + copy.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()))


def test_staging_keeps_an_interrupted_run_only_when_it_has_a_completed_epoch(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with runs.staging(out, overwrite=False):
            raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())
    with pytest.raises(KeyboardInterrupt):
        with runs.staging(out, overwrite=False) as stage:
            (stage / "backup").mkdir()
            (stage / "backup" / resume.STATE).write_text('{"epoch": 1}')
            raise KeyboardInterrupt
    assert resume.has_backup(runs.partial_folder(out)) and not out.exists()
    with pytest.raises(UserError, match="add --resume"):
        with runs.staging(out, overwrite=False):
            pass
    with runs.staging(out, overwrite=False, resume_run=True) as stage:
        (stage / "weights.npz").write_bytes(b"x")
    assert sorted(p.name for p in out.iterdir()) == ["weights.npz"] and not runs.partial_folder(out).exists()
    shutil.rmtree(out)


def test_a_run_killed_while_pretraining_resumes_to_the_same_losses(tmp_path, corpus_csv):
    from conftest import make_abstract, write_csv

    rng = np.random.default_rng(5)
    extra = write_csv(tmp_path / "extra.csv", [make_abstract(rng) for _ in range(8)])
    flags = ["--pretrain", str(extra), "--epochs", "3"]
    whole = train(corpus_csv, tmp_path / "whole", *flags)
    assert whole.returncode == 0, whole.stderr[-2000:]
    out = tmp_path / "run"
    proc, _ = start_and_interrupt(corpus_csv, out, signal.SIGKILL, after_epochs=1, extra=flags, phase=resume.PRETRAIN)
    assert proc.returncode == -signal.SIGKILL and resume.has_backup(runs.partial_folder(out))
    assert "of pre-training" in resume.describe(runs.partial_folder(out))
    resumed = train(corpus_csv, out, *flags, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    (history, val_ce), (expected, expected_ce) = val_losses(out), val_losses(tmp_path / "whole")
    assert len(history) == len(expected) and history == pytest.approx(expected, abs=1e-4)
    assert val_ce == pytest.approx(expected_ce, abs=1e-4)
