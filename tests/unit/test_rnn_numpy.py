"""The reference numpy RNN: loss at init, BPTT against the loop version, an asserting gradient
check that catches a broken gradient, SGD with learning-rate halving, save/load checks."""

import numpy as np
import pytest

from patentgen.errors import UserError
from patentgen.rnn_numpy import RNNNumpy, bptt_loop, fit


def _sentence(rng, vocab, length):
    ids = rng.integers(0, vocab, length + 1)
    return ids[:-1], ids[1:]


def test_init_ranges_and_loss_close_to_ln_vocab():
    model = RNNNumpy(200, hidden_dim=20, seed=0)
    assert np.abs(model.U).max() <= 1 / np.sqrt(200) and np.abs(model.W).max() <= 1 / np.sqrt(20)
    rng = np.random.default_rng(0)
    X, Y = zip(*[_sentence(rng, 200, 15) for _ in range(20)])
    assert model.calculate_loss(X, Y) == pytest.approx(np.log(200), abs=0.05)


@pytest.mark.parametrize("truncate", [None, 0, 2, 4])
def test_vectorised_bptt_equals_the_tutorial_loop(truncate):
    model = RNNNumpy(30, hidden_dim=7, bptt_truncate=truncate, dtype=np.float64, seed=1)
    x, y = _sentence(np.random.default_rng(2), 30, 12)
    for fast, slow in zip(model.bptt(x, y), bptt_loop(model, x, y)):
        assert np.allclose(fast, slow, atol=1e-12)


def test_gradient_check_with_its_defaults_passes_on_the_model_as_trained():
    model = RNNNumpy(10, hidden_dim=5, seed=3)  # float32, truncated BPTT: the training configuration
    x, y = _sentence(np.random.default_rng(4), 10, 8)
    before = [getattr(model, p).copy() for p in "UVW"]
    worst = model.gradient_check(x, y)
    assert max(worst.values()) < 1e-6 and set(worst) == set("UVW")
    assert all(np.array_equal(b, getattr(model, p)) and getattr(model, p).dtype == np.float32 for b, p in zip(before, "UVW"))


def test_gradient_check_catches_a_broken_gradient(monkeypatch):
    model = RNNNumpy(10, hidden_dim=5, bptt_truncate=None, dtype=np.float64, seed=3)
    x, y = _sentence(np.random.default_rng(4), 10, 8)
    right = RNNNumpy.bptt

    def broken(self, x, y):
        dLdU, dLdV, dLdW = right(self, x, y)
        return dLdU, dLdV, dLdW * 1.01  # one term off by 1%

    monkeypatch.setattr(RNNNumpy, "bptt", broken)
    with pytest.raises(AssertionError, match="gradient check failed for dW"):
        model.gradient_check(x, y)


def _cycle(n=12):
    X = [np.arange(i, i + 6) % n for i in range(n)]  # a learnable cycle
    return [(x, (x + 1) % n) for x in X]


def test_fit_learns_and_halves_the_rate_when_validation_loss_rises():
    data = _cycle()
    model = RNNNumpy(12, hidden_dim=8, seed=0)
    start = model.calculate_loss(*zip(*data))
    rows = fit(model, data, data, learning_rate=0.05, epochs=30, patience=30, time_budget_s=None, seed=1)
    assert len(rows) == 30 and rows[-1]["val_loss"] < start - 1.0
    model = RNNNumpy(12, hidden_dim=8, seed=0)
    rows = fit(model, data, data, learning_rate=40.0, epochs=30, patience=30, time_budget_s=None, seed=1)
    rises = [i for i in range(1, len(rows)) if rows[i]["val_loss"] > rows[i - 1]["val_loss"]]
    assert rises and all(rows[i + 1]["learning_rate"] == rows[i]["learning_rate"] / 2 for i in rises if i + 1 < len(rows))


def test_fit_stops_early_and_keeps_the_best_parameters():
    data = _cycle()
    other = [(x, (x + 5) % 12) for x, _ in data]  # validation text the training makes less likely
    model = RNNNumpy(12, hidden_dim=8, seed=0)
    rows = fit(model, data, other, learning_rate=0.05, epochs=50, patience=2, time_budget_s=None, seed=1)
    best = min(r["val_loss"] for r in rows)
    best_epoch = next(r["epoch"] for r in rows if r["val_loss"] == best)
    assert len(rows) == best_epoch + 2 < 50  # two epochs without a better loss, then stop
    assert model.calculate_loss(*zip(*other)) == pytest.approx(best)


def test_fit_marks_an_epoch_cut_by_the_time_budget():
    data = _cycle() * 50
    model = RNNNumpy(12, hidden_dim=8, seed=0)
    rows = fit(model, data, data[:5], learning_rate=0.05, epochs=5, patience=5, time_budget_s=1e-4, seed=1)
    assert len(rows) == 1 and 0 < rows[0]["epoch_fraction"] < 1


def test_save_load_round_trip_and_shape_checks(tmp_path):
    model = RNNNumpy(15, hidden_dim=4, seed=0)
    model.save(tmp_path / "rnn.npz")
    again = RNNNumpy.load(tmp_path / "rnn.npz", word_dim=15)
    assert all(np.array_equal(getattr(model, p), getattr(again, p)) for p in "UVW")
    with pytest.raises(UserError, match="tokenizer has 16"):
        RNNNumpy.load(tmp_path / "rnn.npz", word_dim=16)
    np.savez(tmp_path / "bad.npz", U=model.U, V=model.V[:, :3], W=model.W)
    with pytest.raises(UserError, match="shapes disagree"):
        RNNNumpy.load(tmp_path / "bad.npz")
    with pytest.raises(UserError, match="too small"):
        RNNNumpy(2)


def test_next_logits_carries_state_like_a_full_forward_pass():
    model = RNNNumpy(20, hidden_dim=6, dtype=np.float64, seed=0)
    x = [3, 5, 7, 9]
    o, _ = model.forward_propagation(x)
    logits, state = model.next_logits(x[:2])
    logits, state = model.next_logits(x[2:3], state)
    logits, _ = model.next_logits(x[3:], state)
    assert np.allclose(np.exp(logits) / np.exp(logits).sum(), o[-1])


def test_a_truncated_parameter_file_is_a_user_error(tmp_path):
    from patentgen.errors import UserError

    model = RNNNumpy(12, 5)
    model.save(tmp_path / "w.npz")
    data = (tmp_path / "w.npz").read_bytes()
    (tmp_path / "w.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="BadZipFile: truncated.*the run folder is damaged"):
        RNNNumpy.load(tmp_path / "w.npz")
