"""The count baselines: proper distributions, Kneser-Ney's continuation counts, and scoring
through the same evaluator as the networks."""

import numpy as np
import pytest

from patentgen import evaluate, ngram


def _docs():
    rng = np.random.default_rng(0)
    return [np.r_[2, (3 + (rng.integers(0, 10) + np.arange(40)) % 10)].astype(np.int64) for _ in range(30)]


@pytest.mark.parametrize("order", [2, 3, 5])
def test_distributions_sum_to_one_for_seen_and_unseen_contexts(order):
    kn = ngram.KneserNey(_docs(), 14, order)
    for context in [(3, 4, 5, 6), (13, 13, 13, 13), (), (2,)]:
        probs = kn.distribution(context)
        assert probs.shape == (14,) and probs.min() > 0 and probs.sum() == pytest.approx(1.0)


def test_kneser_ney_learns_the_pattern_and_beats_unigram():
    docs = _docs()
    kn, uni = ngram.KneserNey(docs, 14, 3), ngram.Unigram(docs, 14)
    assert np.argmax(kn.distribution((5, 6))) == 7
    flat = np.concatenate(docs)
    starts = np.arange(0, 200)
    assert evaluate.full_context(kn, flat, starts, 4)["ce"] < evaluate.full_context(uni, flat, starts, 4)["ce"] - 1


def test_lower_orders_use_continuation_counts():
    # "b" follows many different words; "c" follows only "a" (but often): at the unigram level,
    # Kneser-Ney must prefer "b" although "c" is more frequent.
    a, b, c = 3, 4, 5
    docs = [np.array([a, c] * 20 + [6, b, 7, b, 8, b, 9, b, 10, b])]
    kn = ngram.KneserNey(docs, 11, 2)
    unigram_level = kn.distribution(())
    assert unigram_level[b] > unigram_level[c]
