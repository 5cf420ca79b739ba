"""Training behaviour on tiny data: the loss falls, checkpoints keep the best, early stopping stops."""

import numpy as np
import pytest

from patentgen.model import compile_model

from patentgen.models import build_model
from patentgen.training import Schedule, fit, seed_everything, whole_epochs
from patentgen.windows import Windows


def _windows(seed, n_docs=12, length=60, vocab=30, random=False):
    rng = np.random.default_rng(seed)
    if random:
        docs = [rng.integers(2, vocab, length).astype(np.int32) for _ in range(n_docs)]
    else:  # a learnable pattern: each id is followed by the next, modulo the vocabulary
        docs = [(2 + (rng.integers(0, vocab - 2) + np.arange(length)) % (vocab - 2)).astype(np.int32) for _ in range(n_docs)]
    return Windows.from_docs(docs, window=10)


def test_loss_falls_in_a_few_steps(tmp_path):
    seed_everything(0)
    model = compile_model(build_model(30, "lstm", embedding_dim=8, units=16), learning_rate=0.01)
    rows, _ = fit(model, _windows(0), _windows(1), "lstm", tmp_path, Schedule(epochs=5, patience=5, batch_size=16), verbose=0)
    losses = [r["loss"] for r in rows]
    assert losses[-1] < losses[0] - 0.5
    assert all("seconds" in r for r in rows) and (tmp_path / "history.csv").exists()


def test_early_stopping_keeps_the_best_weights(tmp_path):
    seed_everything(0)
    model = compile_model(build_model(30, "lstm", embedding_dim=8, units=32), learning_rate=0.03)
    train = _windows(0, n_docs=4, random=True)  # memorisable noise: validation gets worse
    val = _windows(5, n_docs=4, random=True)
    rows, _ = fit(model, train, val, "lstm", tmp_path, Schedule(epochs=60, patience=2, batch_size=4), verbose=0)
    val_losses = [r["val_loss"] for r in rows]
    assert len(rows) < 60  # stopped early
    assert int(np.argmin(val_losses)) == len(rows) - 3  # patience 2 after the best epoch
    final = model.evaluate(val.dataset("lstm", 4), verbose=0)
    assert abs(final - min(val_losses)) < 1e-4  # the best weights were restored


def test_time_budget_stops_training(tmp_path):
    model = compile_model(build_model(30, "lstm", embedding_dim=8, units=8), learning_rate=0.01)
    rows, clock = fit(model, _windows(0), _windows(1), "lstm", tmp_path,
                      Schedule(epochs=1000, patience=1000, batch_size=2, max_minutes=0.05), verbose=0)
    assert clock.out_of_time and len(rows) < 1000
    cut = [r for r in rows if "epoch_fraction" in r]  # the epoch the budget cut short, if it did
    assert cut == rows[-1:] and 0 < cut[0]["epoch_fraction"] < 1 or not cut and clock.fraction is None
    assert whole_epochs(rows) == len(rows) - len(cut)


def test_same_seed_same_run(tmp_path):
    def once():
        seed_everything(3)
        model = compile_model(build_model(30, "lstm", embedding_dim=8, units=16, dropout=0.3), learning_rate=0.01)
        rows, _ = fit(model, _windows(0), _windows(1), "lstm", tmp_path / "once", Schedule(epochs=2, patience=5, batch_size=16, seed=3), verbose=0)
        return [(r["loss"], r["val_loss"]) for r in rows]

    assert once() == once()


def test_learning_rate_halves_when_validation_stalls(tmp_path):
    seed_everything(0)
    model = compile_model(build_model(30, "lstm", embedding_dim=8, units=32), learning_rate=0.03)
    train, val = _windows(0, n_docs=4, random=True), _windows(5, n_docs=4, random=True)
    rows, _ = fit(model, train, val, "lstm", tmp_path, Schedule(epochs=8, patience=8, batch_size=4, lr_factor=0.5, lr_patience=1), verbose=0)
    rates = [r["learning_rate"] for r in rows]
    assert rates[0] == pytest.approx(0.03) and min(rates) < 0.03
    for i in range(2, len(rows)):  # the rate drops only after an epoch that did not improve
        if rates[i] < rates[i - 1]:
            assert rows[i - 1]["val_loss"] >= min(r["val_loss"] for r in rows[: i - 1])
