"""Training stage: fit a compiled Keras model with checkpoints, early stopping and a time budget.

Owns the training loop policy: Adam (in ``model.compile_model``), ModelCheckpoint of the best
validation loss, EarlyStopping that restores the best weights, a wall-clock budget, a CSV log
and a per-epoch history with elapsed seconds (for the cross-entropy-vs-time plots).
"""

from __future__ import annotations

import time
from pathlib import Path

import keras


class WallClock(keras.callbacks.Callback):
    """Adds ``seconds`` (since training began) to each epoch's logs; stops past ``budget_s``."""

    def __init__(self, budget_s: float | None):
        super().__init__()
        self.budget_s = budget_s
        self.start = time.perf_counter()
        self.out_of_time = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def on_train_batch_end(self, batch, logs=None):
        if self.budget_s is not None and self.elapsed() > self.budget_s:
            self.out_of_time = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(self.elapsed(), 2)


def seed_everything(seed: int) -> None:
    """Python, numpy and TensorFlow seeds, and deterministic TensorFlow ops."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def fit(
    model, train_ds, val_ds, workdir: Path, epochs: int, patience: int, max_minutes: float | None, verbose=1,
    lr_factor: float = 1.0, lr_patience: int = 1,
):
    """Train; returns (history rows, wall clock). The model ends with its best weights.

    With ``lr_factor`` < 1 the learning rate is multiplied by it after ``lr_patience`` epochs
    without a better validation loss (ReduceLROnPlateau)."""
    checkpoint = workdir / "best.weights.h5"
    clock = WallClock(None if max_minutes is None else max_minutes * 60)
    callbacks = [
        clock,
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True, save_weights_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        keras.callbacks.CSVLogger(str(workdir / "history.csv")),
    ]
    if lr_factor < 1:
        callbacks.insert(1, keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=lr_factor, patience=lr_patience, min_lr=1e-5))
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    if checkpoint.exists():
        model.load_weights(checkpoint)
        checkpoint.unlink()
    rows = [
        {"epoch": i + 1, **{k: float(v[i]) for k, v in history.history.items()}} for i in range(len(history.epoch))
    ]
    return rows, clock
