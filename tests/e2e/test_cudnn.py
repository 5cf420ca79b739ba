"""The recurrent layers of the default recipe (and of every Keras architecture) meet Keras 3's
conditions for TensorFlow's cuDNN kernel, checked on the CPU: a change that would make a GPU fall
back to the generic kernel, many times slower, fails here.

Keras 3.15 (keras/src/layers/rnn/lstm.py, keras/src/backend/tensorflow/rnn.py) uses cuDNN when
activation is tanh, recurrent_activation sigmoid, recurrent_dropout 0, unroll False, use_bias
True (GRU also reset_after True), use_cudnn is "auto" or True, and a mask, if any, is strictly
right-padded. The checks call Keras's own predicates where it has them.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import keras

from patentgen import models
from patentgen.config import TrainConfig
from patentgen.models import build_model
from patentgen.tokenizer import PAD_ID
from patentgen.windows import every_position_chunks

tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")  # where Keras keeps its cuDNN conditions


def cudnn_problems(layer) -> list[str]:
    """Why ``layer`` would not run on cuDNN (empty: it would)."""
    if isinstance(layer, keras.layers.LSTM):
        args_ok = tf_rnn._do_lstm_arguments_support_cudnn(layer.activation, layer.recurrent_activation, layer.unroll, layer.use_bias)
    elif isinstance(layer, keras.layers.GRU):
        args_ok = tf_rnn._do_gru_arguments_support_cudnn(layer.activation, layer.recurrent_activation, layer.unroll, layer.use_bias, layer.reset_after)
    else:
        return [f"{layer.name} is a {type(layer).__name__}, which has no cuDNN kernel"]
    problems = []
    if not args_ok:
        problems.append(f"{layer.name}: activation {layer.activation.__name__}, recurrent_activation "
                        f"{layer.recurrent_activation.__name__}, unroll {layer.unroll}, use_bias {layer.use_bias}")
    if layer.recurrent_dropout:
        problems.append(f"{layer.name}: recurrent_dropout {layer.recurrent_dropout}")
    if layer.use_cudnn not in ("auto", True):
        problems.append(f"{layer.name}: use_cudnn {layer.use_cudnn}")
    return problems


def recurrent_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def default_recipe(**changes) -> keras.Model:
    arch = models.get(changes.get("arch", "lstm"))
    cfg = arch.settle(TrainConfig(**{**arch.defaults, **changes}))
    return build_model(500, cfg.arch, cfg.embedding_dim, None, not cfg.freeze_embeddings, cfg.layers,
                       cfg.units, cfg.dropout, cfg.tie_embeddings)


@pytest.mark.parametrize("changes", [{}, {"layers": 2}, {"arch": "classic"}, {"freeze_embeddings": True}, {"tie_embeddings": False},
                                     {"arch": "gru"}, {"arch": "gru", "layers": 2}],
                         ids=["default", "two-layers", "classic", "frozen-embeddings", "untied", "gru", "gru-two-layers"])
def test_every_recurrent_layer_meets_the_cudnn_conditions(changes):
    model = default_recipe(**changes)
    layers = recurrent_layers(model)
    assert len(layers) == changes.get("layers", 1)
    assert [problem for layer in layers for problem in cudnn_problems(layer)] == []


def test_the_check_catches_a_layer_that_would_fall_back_to_the_generic_kernel():
    good = keras.layers.LSTM(8)
    assert cudnn_problems(good) == []
    for bad in (keras.layers.LSTM(8, recurrent_dropout=0.1), keras.layers.LSTM(8, activation="relu"),
                keras.layers.LSTM(8, recurrent_activation="hard_sigmoid"), keras.layers.LSTM(8, unroll=True),
                keras.layers.LSTM(8, use_bias=False), keras.layers.LSTM(8, use_cudnn=False),
                keras.layers.GRU(8, reset_after=False), keras.layers.SimpleRNN(8)):
        assert cudnn_problems(bad), bad.get_config()


def test_the_lstm_gets_no_mask_and_the_padding_is_on_the_right():
    ids = np.array([[5, 6, 7, PAD_ID, PAD_ID]], dtype="int32")
    for model in (default_recipe(), default_recipe(tie_embeddings=False), default_recipe(arch="classic"), default_recipe(arch="gru")):
        embedding = model.get_layer("embedding")
        # Nothing masks the LSTM (the loss ignores <pad> targets instead): no mask from the embedding, no Masking layer.
        assert embedding.compute_mask(ids, None) is None and getattr(embedding(ids), "_keras_mask", None) is None
        assert not any(isinstance(layer, keras.layers.Masking) for layer in model.layers)
    # Were a mask added, cuDNN would need it strictly right-padded: the training chunks are.
    docs = [np.arange(1, n + 1, dtype=np.int32) for n in (3, 12, 25)]
    chunks = every_position_chunks(docs, window=10)
    assert (chunks == PAD_ID).any()
    assert bool(tf_rnn._is_sequence_right_padded(chunks != PAD_ID))
    assert not bool(tf_rnn._is_sequence_right_padded(np.array([[False, True, True]])))
