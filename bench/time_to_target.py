"""Training seconds the default recipe needs to reach a validation cross-entropy.

    python -m bench.time_to_target --target 4.9548 [--every 20] [--max-minutes 4]

Trains ``train.py``'s default recipe in this process and measures the validation loss every
``--every`` optimizer steps (the same objective Keras reports as val_loss), with the clock paused
while it measures, so the answer is not limited to whole epochs. Prints the training seconds
at the first measurement at or below ``--target``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from patentgen import pipeline, training  # noqa: E402
from patentgen.config import TrainConfig, default_data  # noqa: E402
from patentgen.embeddings import glove_matrix  # noqa: E402
from patentgen.model import compile_model  # noqa: E402
from patentgen.models import build_model  # noqa: E402


class Probe(keras.callbacks.Callback):
    def __init__(self, val_ds, every: int, target: float):
        super().__init__()
        self.val_ds, self.every, self.target = val_ds, every, target
        self.train_seconds, self.steps, self.curve, self.reached = 0.0, 0, [], None
        self.t0 = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.train_seconds += time.perf_counter() - self.t0
        self.steps += 1
        if self.steps % self.every == 0:
            loss = self.model.evaluate(self.val_ds, verbose=0)  # clock paused
            self.curve.append((round(self.train_seconds, 2), self.steps, round(loss, 4)))
            print(f"  {self.train_seconds:7.1f} s, step {self.steps:5d}: val CE {loss:.4f}", flush=True)
            if loss <= self.target:
                self.reached = self.train_seconds
                self.model.stop_training = True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", type=float, required=True, help="validation cross-entropy to reach (nats)")
    p.add_argument("--every", type=int, default=20, help="optimizer steps between measurements (default: %(default)s)")
    p.add_argument("--max-minutes", type=float, default=4.0, help="give up after this much training (default: %(default)s)")
    p.add_argument("--data", default=str(default_data()), help="corpus (default: %(default)s)")
    a = p.parse_args()
    cfg = TrainConfig(data=a.data)
    prepared, _, _ = pipeline.prepare_corpus(cfg)
    matrix, _ = glove_matrix(prepared.tokenizer, cfg.glove_file, cfg.seed)
    training.seed_everything(cfg.seed)
    model = compile_model(build_model(len(prepared.tokenizer), cfg.arch, cfg.embedding_dim, matrix, True, cfg.layers,
                                      cfg.units, cfg.dropout, cfg.tie_embeddings), cfg.learning_rate)
    val = prepared.windows["val"].dataset(cfg.arch, cfg.batch_size)
    probe = Probe(val, a.every, a.target)
    clock = training.WallClock(a.max_minutes * 60)
    train = prepared.windows["train"]
    model.fit(train.dataset(cfg.arch, cfg.batch_size, cfg.seed, 0, cfg.epochs), epochs=cfg.epochs,
              steps_per_epoch=train.steps(cfg.arch, cfg.batch_size), callbacks=[probe, clock], verbose=0)
    if probe.reached is None:
        print(f"not reached within {a.max_minutes} min of training (best {min(c[2] for c in probe.curve):.4f})")
    else:
        print(f"reached val CE <= {a.target} after {probe.reached:.1f} training seconds ({probe.steps} steps)")


if __name__ == "__main__":
    main()
