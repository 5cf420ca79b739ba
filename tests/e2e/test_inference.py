"""Oracle tests: every Keras architecture's numpy inference gives Keras's numbers for the same weights."""

import keras
import numpy as np
import pytest

from patentgen import models
from patentgen.inference import log_softmax
from patentgen.model import export_weights

from patentgen.models import build_model

V = 40


def _random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@pytest.mark.parametrize(
    "arch, kwargs",
    [
        ("lstm", dict(layers_count=1, units=12, tie=True)),
        ("lstm", dict(layers_count=2, units=10, tie=False, dropout=0.3)),
        ("classic", dict()),
        ("gru", dict(layers_count=1, units=12, tie=True)),
        ("gru", dict(layers_count=2, units=10, tie=False, dropout=0.3)),
    ],
)
def test_numpy_forward_matches_keras(arch, kwargs):
    model = _random_weights(build_model(V, arch, embedding_dim=8, **kwargs))
    ids = np.random.default_rng(1).integers(0, V, size=(3, 9)).astype(np.int32)
    keras_logits = np.asarray(model(ids, training=False))
    lm = models.get(arch).numpy_lm(export_weights(model))
    if arch == "classic":
        assert np.allclose(lm.last_logits(ids), keras_logits, atol=1e-5)
    else:
        hidden, _ = lm.hidden(ids)
        assert np.allclose(lm.logits(hidden), keras_logits, atol=1e-5)


@pytest.mark.parametrize("arch", ["lstm", "classic", "gru"])
def test_state_carrying_decode_equals_full_window(arch):
    model = _random_weights(build_model(V, arch, embedding_dim=8, units=12), seed=2)
    lm = models.get(arch).numpy_lm(export_weights(model))
    ids = np.random.default_rng(3).integers(2, V, size=12)
    logits, state = lm.next_logits(ids[:5])  # the seed, fed once
    for t in range(5, 12):
        full = np.asarray(model(ids[None, : t], training=False))
        full = full[0, -1] if full.ndim == 3 else full[0]
        probs = np.exp(log_softmax(full))
        assert np.allclose(np.exp(log_softmax(logits)), probs, atol=1e-5)
        logits, state = lm.next_logits(ids[t : t + 1], state)  # one step per word


def test_model_keras_round_trip(tmp_path):
    model = _random_weights(build_model(V, "lstm", embedding_dim=8, units=12, tie=True))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    ids = np.arange(10, dtype=np.int32)[None]
    assert np.array_equal(np.asarray(model(ids)), np.asarray(again(ids)))
