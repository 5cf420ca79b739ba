"""The ``classic`` architecture, the published design: Embedding -> LSTM(64) -> Dense(128, relu)
-> Dropout(0.5) -> logits for the word after each window.

Owns its Keras builder and its fixed shape: it reads the embedding settings only, refuses
``--units``, ``--layers``, ``--dropout`` and ``--no-tie``, and records the shape it has.
"""

from __future__ import annotations

from .base import Architecture
from .lstm import LSTMCell

UNITS, DENSE, DROPOUT = 64, 128, 0.5


class Classic(Architecture):
    name = "classic"
    summary = "classic: the published LSTM(64)-Dense(128) predicting the word after each window"
    defaults = {"learning_rate": 3e-3}
    uses = frozenset({"embeddings", "glove_file", "embedding_dim", "freeze_embeddings"})
    fixed = {"units": UNITS, "layers": 1, "dropout": DROPOUT, "input_dropout": 0.0, "tie_embeddings": False}
    every_position = False

    def build(self, vocab_size, embedding_dim=50, matrix=None, trainable_embeddings=True, layers_count=1,
              units=UNITS, dropout=DROPOUT, tie=False, input_dropout=0.0):
        """ids (B, T) -> logits (B, V); the shape arguments are fixed by the design and not read."""
        import keras
        from keras import layers

        from ..model import embedding_layer, float32_logits, set_embeddings

        if matrix is not None:
            embedding_dim = matrix.shape[1]
        ids = keras.Input(shape=(None,), dtype="int32", name="ids")
        x = embedding_layer(vocab_size, embedding_dim, trainable_embeddings, tied=False)(ids)
        x = layers.LSTM(UNITS, name="lstm_0")(x)  # (B, 64)
        x = layers.Dense(DENSE, activation="relu", name="dense")(x)  # (B, 128)
        x = layers.Dropout(DROPOUT)(x)
        logits = layers.Dense(vocab_size, name="output")(x)  # (B, V)
        return set_embeddings(keras.Model(ids, float32_logits(logits), name=self.name), matrix)

    def numpy_lm(self, weights):
        from ..inference import NumpyLM, recurrent_stack

        return NumpyLM(weights, recurrent_stack(weights, "lstm", LSTMCell), self.name, every_position=False)


ARCHITECTURE = Classic()
