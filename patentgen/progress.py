"""Progress lines of training and evaluation: how far a stage is, and about how long it has left.

On a terminal, one line rewritten in place (at most five times a second). Anywhere else (a log
file, a pipe, ``--quiet``) plain lines only, one at each quarter of the stage, so a log never
holds carriage returns or escape codes. Every stage ends with one line that says what it did
and how long it took. ``train.py`` shows its preparation, every epoch and the evaluation of
each split with them; ``patentgen-evaluate`` its splits (on stderr, so stdout stays the table
or the JSON).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def duration(seconds: float) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """``progress(done, total)`` for one stage; ``finish(text)`` ends it with ``text`` (default:
    '<label>: done in N s'). ``inline``: rewrite one line (default: on a terminal, unless
    ``quiet``); else a plain line at each quarter. Nothing shows before ``min_seconds``; with
    ``hide_short`` a stage that ends sooner shows nothing at all, not even its last line. With
    ``ends_itself`` the stage finishes when ``done`` reaches ``total``."""

    def __init__(self, label: str, unit: str, stream: TextIO | None = None, quiet: bool = False, inline: bool | None = None,
                 min_seconds: float = 2.0, hide_short: bool = False, ends_itself: bool = False):
        self.label, self.unit, self.min_seconds, self.hide_short, self.ends_itself = label, unit, min_seconds, hide_short, ends_itself
        self.shown = False
        self.stream = stream or sys.stdout
        self.inline = (is_terminal(self.stream) and not quiet) if inline is None else inline
        self.start = time.perf_counter()
        self.quarter = 0  # quarters already reported
        self.shown_at = 0.0  # when the inline line was last drawn
        self.width = 0  # length of the inline line on screen
        self.finished = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def text(self, done: int, total: int, extra: str = "") -> str:
        """'label: 40% (400 of 1,000 units), 12 s so far, about 18 s left, extra'."""
        elapsed = self.elapsed()
        share = done / total if total else 1.0
        left = f", about {duration(elapsed * (total - done) / done)} left" if 0 < done < total else ""
        return f"{self.label}: {share:.0%} ({done:,} of {total:,} {self.unit}), {duration(elapsed)} so far{left}{extra}"

    def __call__(self, done: int, total: int, extra: str = "") -> None:
        if self.finished:
            return
        if self.ends_itself and done >= total:
            self.finish()
            return
        if self.elapsed() < self.min_seconds:
            return
        if self.inline:
            now = time.perf_counter()
            if now - self.shown_at >= 0.2 or done >= total:
                self._draw(self.text(done, total, extra))
                self.shown_at = now
            return
        quarter = 4 * done // max(total, 1)
        if 0 < quarter < 4 and quarter > self.quarter:
            self._line(self.text(done, total, extra))
        self.quarter = max(self.quarter, quarter)

    def finish(self, text: str | None = None) -> None:
        """End the stage with ``text`` on a line of its own."""
        if self.finished:
            return
        self.finished = True
        if self.hide_short and not self.shown and self.elapsed() < self.min_seconds:
            return
        text = text or f"{self.label}: done in {duration(self.elapsed())}"
        if self.inline:
            self._draw(text)
            self.stream.write("\n")
            self.stream.flush()
        else:
            self._line(text)

    def interrupt(self, text: str) -> None:
        """End an unfinished inline line and say why it stopped."""
        self.finish(text)

    def _draw(self, text: str) -> None:
        self.shown = True
        self.stream.write("\r" + text + " " * max(self.width - len(text), 0))
        self.stream.flush()
        self.width = max(self.width, len(text))  # what is on screen now

    def _line(self, text: str) -> None:
        self.shown = True
        print(text, file=self.stream, flush=True)


class Stages:
    """The ``progress(stage, done, total)`` of a multi-stage job (``pipeline.Laps``): one
    ``Progress`` per stage, each finished when the next begins; stages shorter than
    ``min_seconds`` show nothing."""

    def __init__(self, label: str, unit: str, stream: TextIO | None = None, quiet: bool = False, min_seconds: float = 2.0):
        self.label, self.unit, self.stream, self.quiet, self.min_seconds = label, unit, stream, quiet, min_seconds
        self.current: tuple[str, Progress] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.current is None or self.current[0] != stage:
            self.close()
            self.current = (stage, Progress(f"{self.label}: {stage}", self.unit, self.stream, self.quiet,
                                            min_seconds=self.min_seconds, hide_short=True))
        self.current[1](done, total)

    def close(self) -> None:
        if self.current is not None:
            self.current[1].finish()
            self.current = None


def epoch_progress(epochs: int, quiet: bool, label: str = "epoch", stream: TextIO | None = None):
    """A Keras callback that shows each epoch's batches with the time left, and ends it with
    one line of its figures ('<label> 3/40: ...'). An epoch the time budget cut ends at the batches it trained (the
    Keras bar jumps to its full count); an epoch Ctrl-C interrupted is said to be dropped, as
    the run drops it (``interrupted``)."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.line: Progress | None = None
            self.epoch, self.seen, self.steps, self.completed = 0, 0, 0, 0
            self.validating = False
            self.began = time.perf_counter()

        def on_train_begin(self, logs=None):
            self.completed = (self.params or {}).get("initial_epoch", 0)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.seen, self.validating = epoch, 0, False
            self.steps = (self.params or {}).get("steps") or 0
            self.began = time.perf_counter()
            self.line = Progress(f"{label} {epoch + 1}/{epochs}", "batches", stream, quiet)

        def on_train_batch_end(self, batch, logs=None):
            self.seen = batch + 1
            if self.line is not None and not quiet:
                loss = (logs or {}).get("loss")
                self.line(self.seen, self.steps, f", loss {float(loss):.4f}" if loss is not None else "")

        def on_test_begin(self, logs=None):
            self.validating = True
            if self.line is not None and self.line.inline:
                self.line._draw(f"{label} {self.epoch + 1}/{epochs}: {self.seen:,} batches trained, validating")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.completed = epoch + 1
            cut = logs.get("epoch_fraction")
            trained = (f"cut by the time budget after {self.seen:,} of {self.steps:,} batches ({cut:.0%})" if cut
                       else f"{self.seen:,} batches")
            figures = ", ".join(f"{name} {float(logs[name]):.4f}" for name in ("loss", "val_loss") if name in logs)
            rate = f", learning rate {float(logs['learning_rate']):.3g}" if "learning_rate" in logs else ""
            text = f"{label} {epoch + 1}/{epochs}: {trained} in {duration(time.perf_counter() - self.began)}; {figures}{rate}"
            if self.line is not None:
                self.line.finish(text)
            self.line = None

        def interrupted(self) -> None:
            """Ctrl-C stopped training: say which epoch was dropped and how many are kept."""
            if self.line is None:
                return
            where = "while validating" if self.validating else f"after {self.seen:,} of {self.steps:,} batches"
            kept = f"{self.completed} completed epoch{'' if self.completed == 1 else 's'}"
            self.line.interrupt(f"{label} {self.epoch + 1}/{epochs}: interrupted {where}; dropped, the run keeps its {kept}")
            self.line = None

    return EpochProgress()
