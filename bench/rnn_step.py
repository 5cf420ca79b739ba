"""Time one SGD step of the numpy RNN: vectorised BPTT against the tutorial's per-step loop.

    python -m bench.rnn_step [--vocab 8000] [--hidden 100] [--length 45] [--repeat 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from patentgen.rnn_numpy import RNNNumpy, bptt_loop


def best_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vocab", type=int, default=8000, help="vocabulary size (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=100, help="hidden units (default: %(default)s)")
    p.add_argument("--length", type=int, default=45, help="sentence length (default: %(default)s)")
    p.add_argument("--truncate", type=int, default=4, help="bptt_truncate (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=50, help="timed repetitions; the median is shown (default: %(default)s)")
    a = p.parse_args()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, a.vocab, a.length + 1)
    x, y = ids[:-1], ids[1:]
    model = RNNNumpy(a.vocab, a.hidden, a.truncate, seed=0)
    fast = best_ms(lambda: model.sgd_step(x, y, 0.005), a.repeat)

    def loop_step():
        dU, dV, dW = bptt_loop(model, x, y)
        model.U -= 0.005 * dU
        model.V -= 0.005 * dV
        model.W -= 0.005 * dW

    slow = best_ms(loop_step, max(3, a.repeat // 5))
    print(f"sgd_step, vocab {a.vocab}, hidden {a.hidden}, {a.length} words, bptt_truncate {a.truncate}, float32")
    print(f"  vectorised BPTT : {fast:8.2f} ms (median of {a.repeat})")
    print(f"  per-step loop   : {slow:8.2f} ms (median of {max(3, a.repeat // 5)})")
    print(f"  speed-up        : {slow / fast:8.1f}x")


if __name__ == "__main__":
    main()
