"""Oracle: a Keras SimpleRNN + Dense loaded with the numpy RNN's U, W, V gives the same
probabilities, loss and (full BPTT) gradients, in float64."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from patentgen.rnn_numpy import RNNNumpy

WORDS, HIDDEN = 12, 6


@pytest.fixture()
def pair():
    rnn = RNNNumpy(WORDS, hidden_dim=HIDDEN, bptt_truncate=None, dtype=np.float64, seed=0)
    inputs = keras.Input((None, WORDS), dtype="float64")
    hidden = keras.layers.SimpleRNN(HIDDEN, activation="tanh", use_bias=False, return_sequences=True, dtype="float64")(inputs)
    probs = keras.layers.Dense(WORDS, use_bias=False, activation="softmax", dtype="float64")(hidden)
    model = keras.Model(inputs, probs)
    # s_t = tanh(U x_t + W s_{t-1}) as rows: x_t @ U.T + s_{t-1} @ W.T; o_t = softmax(s_t @ V.T)
    model.set_weights([rnn.U.T, rnn.W.T, rnn.V.T])
    return rnn, model


def _sentence():
    ids = np.random.default_rng(1).integers(0, WORDS, 10)
    return ids[:-1], ids[1:]


def test_same_probabilities_and_loss(pair):
    rnn, model = pair
    x, y = _sentence()
    o, _ = rnn.forward_propagation(x)
    keras_o = np.asarray(model(np.eye(WORDS)[x][None]))[0]
    assert np.abs(keras_o - o).max() <= 1e-6
    keras_loss = -np.log(keras_o[np.arange(len(y)), y]).mean()
    assert keras_loss == pytest.approx(rnn.calculate_loss([x], [y]), abs=1e-6)


def test_same_gradients_as_full_bptt(pair):
    rnn, model = pair
    x, y = _sentence()
    with tf.GradientTape() as tape:
        probs = model(np.eye(WORDS)[x][None])[0]
        loss = -tf.reduce_sum(tf.math.log(tf.gather(probs, y, axis=1, batch_dims=1)))
    kernel, recurrent, dense = tape.gradient(loss, model.trainable_weights)
    dLdU, dLdV, dLdW = rnn.bptt(x, y)
    assert np.abs(kernel.numpy().T - dLdU).max() <= 1e-6
    assert np.abs(recurrent.numpy().T - dLdW).max() <= 1e-6
    assert np.abs(dense.numpy().T - dLdV).max() <= 1e-6
