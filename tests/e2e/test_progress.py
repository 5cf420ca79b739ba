"""Progress lines: plain lines in logs, one rewritten line on a terminal, the time left; an epoch
cut by the budget ends at the batches it trained; Ctrl-C's message agrees with the log."""

import io
import os
import signal

import keras
import pytest

from patentgen import resume
from patentgen.model import compile_model
from patentgen.models import build_model
from patentgen.progress import Progress, Stages, duration, epoch_progress
from patentgen.training import Schedule, fit, seed_everything
from test_training import _windows

CONTROL = ("\r", "\x1b", "\b")


def test_plain_lines_at_each_quarter_with_the_time_left(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("patentgen.progress.time.perf_counter", lambda: now[0])
    out = io.StringIO()
    line = Progress("evaluating the test split", "windows", out, inline=False, min_seconds=0, ends_itself=True)
    for done in range(0, 101, 10):
        now[0] = done * 0.3  # 0.3 s per window
        line(done, 100)
    lines = out.getvalue().splitlines()
    assert lines[0] == "evaluating the test split: 30% (30 of 100 windows), 9 s so far, about 21 s left"
    assert len(lines) == 4 and lines[-1] == "evaluating the test split: done in 30 s"
    assert not any(c in out.getvalue() for c in CONTROL)


def test_on_a_terminal_one_line_is_rewritten_and_ended():
    out = io.StringIO()
    line = Progress("epoch 1/3", "batches", out, inline=True, min_seconds=0)
    line(1, 4, ", loss 3.2000")
    line.shown_at = -1  # past the redraw interval
    line(2, 4)
    line.finish("epoch 1/3: 4 batches in 1 s")
    _, first, second, last = out.getvalue().split("\r")
    assert first == "epoch 1/3: 25% (1 of 4 batches), 0 s so far, about 0 s left, loss 3.2000"
    assert second.startswith("epoch 1/3: 50% (2 of 4 batches)") and len(second) == len(first)  # the longer line blanked
    assert last.rstrip() == "epoch 1/3: 4 batches in 1 s" and last.endswith("\n") and len(last) == len(second) + 1


def test_short_stages_show_nothing_and_long_ones_say_how_long():
    out = io.StringIO()
    stages = Stages("preparing the corpus", "documents", out, min_seconds=60)
    stages("cleaning and tokenising", 1000, 2000)
    stages("cleaning and tokenising", 2000, 2000)
    stages.close()
    assert out.getvalue() == ""
    stages = Stages("preparing the corpus", "documents", out, min_seconds=0)
    stages("cleaning and tokenising", 1000, 2000)
    stages("encoding and cutting windows", 10, 10)
    stages.close()
    assert [line.split(":")[1].strip() for line in out.getvalue().splitlines() if "done in" in line] == [
        "cleaning and tokenising", "encoding and cutting windows"]


@pytest.mark.parametrize("seconds, text", [(42.4, "42 s"), (185, "3 min 05 s"), (3725, "1 h 02 min")])
def test_durations(seconds, text):
    assert duration(seconds) == text


def test_an_epoch_cut_by_the_budget_ends_at_the_batches_it_trained(tmp_path):
    out = io.StringIO()
    model = compile_model(build_model(30, "lstm", embedding_dim=8, units=8), learning_rate=0.01)
    shown = epoch_progress(1000, quiet=False, stream=out)
    rows, clock = fit(model, _windows(0), _windows(1), "lstm", tmp_path,
                      Schedule(epochs=1000, patience=1000, batch_size=2, max_minutes=0.03), progress=shown)
    assert clock.out_of_time
    last = out.getvalue().splitlines()[-1]
    steps = _windows(0).steps("lstm", 2)
    if "epoch_fraction" in rows[-1]:
        trained = round(rows[-1]["epoch_fraction"] * steps)
        assert last.startswith(f"epoch {len(rows)}/1000: cut by the time budget after {trained:,} of {steps:,} batches")
        assert f"({steps} of {steps} batches)" not in out.getvalue().split("\n")[-2]  # no jump to the full count
    else:  # the budget ran out exactly at an epoch's end
        assert last.startswith(f"epoch {len(rows)}/1000: {steps:,} batches in")
    assert not any(c in out.getvalue() for c in CONTROL)  # a log, not a terminal
    assert f"val_loss {rows[-1]['val_loss']:.4f}" in last


def test_ctrl_c_during_validation_drops_the_epoch_and_says_so(tmp_path):
    """Ctrl-C while epoch 2 validates: its batches all trained, yet it is dropped; the log says
    so, and the backup (what the interrupted message counts) holds 1 completed epoch."""
    seed_everything(0)
    out = io.StringIO()
    model = compile_model(build_model(30, "lstm", embedding_dim=8, units=8), learning_rate=0.01)

    class PressCtrlC(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_test_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 0:
                os.kill(os.getpid(), signal.SIGINT)

    shown = epoch_progress(5, quiet=True, stream=out)
    model.fit = _with_callback(model.fit, PressCtrlC())
    with pytest.raises(KeyboardInterrupt):
        try:
            fit(model, _windows(0), _windows(1, n_docs=24), "lstm", tmp_path, Schedule(epochs=5, patience=5, batch_size=4), progress=shown)
        except KeyboardInterrupt:
            shown.interrupted()
            raise
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("epoch 1/5: ") and len(lines) == 2
    assert lines[1] == "epoch 2/5: interrupted while validating; dropped, the run keeps its 1 completed epoch"
    assert resume.describe(tmp_path) == "1 completed epoch"  # what train.py's interrupted message says


def _with_callback(fit_method, callback):
    def wrapped(*args, callbacks=(), **kwargs):
        return fit_method(*args, callbacks=[*callbacks, callback], **kwargs)

    return wrapped
