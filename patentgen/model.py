"""Model stage: the Keras pieces the architectures share (``models/`` owns each architecture).

Owns the layer names the numpy inference engine reads weights by, the tied embedding, the
every-position stack that ``lstm`` and ``gru`` build (Embedding -> recurrent layer x layers,
variational dropout on the embeddings and after each -> logits at every position; with ``tie`` the output layer is a projection
to the embedding size followed by the transposed embedding matrix, which makes the output
softmax, >90% of the training FLOPs, several times cheaper), compiling, and weights as named
numpy arrays.

The recurrent layers keep Keras defaults (tanh/sigmoid, no recurrent dropout, no mask: padding
is on the right and the loss ignores it), so TensorFlow uses cuDNN on a GPU.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import layers, ops

@keras.saving.register_keras_serializable(package="patentgen")
class TiedEmbedding(layers.Layer):
    """An embedding that also maps vectors back to vocabulary logits with its own matrix.

    ``layer(ids)`` looks rows up; ``layer(vectors, reverse=True)`` returns
    ``vectors @ embeddings.T + output_bias`` (the idea of keras-hub's ReversibleEmbedding).
    """

    def __init__(self, input_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings = self.add_weight(
            shape=(input_dim, output_dim), initializer="uniform", name="embeddings", trainable=True
        )
        self.output_bias = self.add_weight(shape=(input_dim,), initializer="zeros", name="output_bias")

    def call(self, inputs, reverse=False):
        if reverse:
            return ops.matmul(inputs, ops.transpose(self.embeddings)) + self.output_bias
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)

    def compute_output_spec(self, inputs, reverse=False):
        if reverse:
            return keras.KerasTensor((*inputs.shape[:-1], self.input_dim), dtype=self.compute_dtype)
        return keras.KerasTensor((*inputs.shape, self.output_dim), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim}


def embedding_layer(vocab_size: int, dim: int, trainable: bool, tied: bool):
    if tied:
        return TiedEmbedding(vocab_size, dim, name="embedding")
    return layers.Embedding(vocab_size, dim, trainable=trainable, name="embedding")


def set_embeddings(model: keras.Model, matrix: np.ndarray | None) -> keras.Model:
    # Assigned after building, so the matrix is not copied into the model's JSON config.
    if matrix is not None:
        model.get_layer("embedding").embeddings.assign(matrix)
    return model


def float32_logits(logits):
    """Under mixed precision, logits (and so the softmax in the loss) are cast back to float32."""
    if keras.mixed_precision.global_policy().compute_dtype == "float32":
        return logits
    return layers.Activation("linear", dtype="float32", name="logits_float32")(logits)


def every_position_model(vocab_size: int, recurrent, name: str, embedding_dim: int = 50,
                         matrix: np.ndarray | None = None, trainable_embeddings: bool = True,
                         layers_count: int = 1, dropout: float = 0.0, tie: bool = True, input_dropout: float = 0.0) -> keras.Model:
    """ids (B, T) int32 -> logits (B, T, vocab); ``recurrent(i)`` makes layer i (sequences out).
    Dropout is variational (AWD-LSTM's locked dropout): one mask per window, the same at every
    step, on the embeddings (``input_dropout``) and after each recurrent layer (``dropout``);
    outside the recurrent layers, so they stay cuDNN-eligible."""
    if matrix is not None:
        embedding_dim = matrix.shape[1]
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    tied = tie and trainable_embeddings
    embedding = embedding_layer(vocab_size, embedding_dim, trainable_embeddings, tied=tied)
    x = embedding(ids)  # (B, T, E)
    if input_dropout:
        x = layers.Dropout(input_dropout, noise_shape=(None, 1, embedding_dim), name="input_dropout")(x)
    for i in range(layers_count):
        x = recurrent(i)(x)  # (B, T, units)
        if dropout:
            x = layers.Dropout(dropout, noise_shape=(None, 1, x.shape[-1]), name=f"dropout_{i}")(x)
    if tied:
        x = layers.Dense(embedding_dim, name="projection")(x)  # (B, T, E)
        logits = embedding(x, reverse=True)  # (B, T, V)
    else:
        logits = layers.Dense(vocab_size, name="output")(x)  # (B, T, V)
    return set_embeddings(keras.Model(ids, float32_logits(logits), name=name), matrix)


def compile_model(model: keras.Model, learning_rate: float, clipnorm: float | None = 1.0) -> keras.Model:
    """Adam on sparse cross-entropy from logits; ``<pad>`` (id 0) targets are ignored."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    return model


def export_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """Named numpy arrays of a built model, the format ``inference.NumpyLM`` reads."""
    out: dict[str, np.ndarray] = {}
    for layer in model.layers:
        for weight in layer.weights:
            out[f"{layer.name}/{weight.name}"] = np.asarray(weight.numpy())
    return out


def load_weights(model: keras.Model, named: dict[str, np.ndarray]) -> None:
    """Assign the arrays of ``export_weights`` (another run's ``weights.npz``) to a model built
    with the same settings: fine-tuning starts from them. A UserError if the layers disagree."""
    from .errors import UserError

    wanted = {f"{layer.name}/{weight.name}": weight for layer in model.layers for weight in layer.weights}
    wrong = sorted(set(wanted) ^ set(named)) or sorted(k for k in wanted if tuple(wanted[k].shape) != named[k].shape)
    if wrong:
        raise UserError(f"the weights to start from do not fit this model ({', '.join(wrong[:3])}); "
                        "--init-from needs a run trained by this version of train.py")
    for name, weight in wanted.items():
        weight.assign(named[name])
