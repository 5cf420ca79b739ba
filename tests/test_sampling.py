"""Sampling with stub models of fixed logits: greedy, top-k, top-p, temperature, repeatability."""

import numpy as np
import pytest

from patentgen.sampling import choose, generate, score, top_k_filter, top_p_filter
from patentgen.tokenizer import BOS_ID, PAD_ID, UNK_ID

LOGITS = np.array([9.0, 8.0, 7.0, 1.0, 3.0, 2.5, 0.5, -1.0])  # pad, unk and <s> score highest


def stub(logits=LOGITS):
    calls = []

    def next_logits(ids, state):
        calls.append(list(ids))
        return logits, (state or 0) + len(ids)

    next_logits.calls = calls
    return next_logits


def test_greedy_picks_the_argmax_of_allowed_words():
    assert choose(LOGITS, np.random.default_rng(0), temperature=0) == 4


def test_reserved_ids_are_never_emitted():
    out = generate(stub(), [BOS_ID], 500, np.random.default_rng(0), temperature=5.0)
    assert not {PAD_ID, UNK_ID, BOS_ID} & set(out) and len(set(out)) == 5


def test_top_k_never_draws_outside_the_k_best():
    out = {choose(LOGITS, np.random.default_rng(s), 2.0, top_k=2) for s in range(300)}
    assert out == {4, 5}
    assert np.isinf(top_k_filter(np.array([1.0, 3.0, 2.0]), 1)).tolist() == [True, False, True]


def test_top_p_never_draws_outside_the_nucleus():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    kept = ~np.isinf(top_p_filter(logits, 0.75))
    assert kept.tolist() == [True, True, False, False]
    out = {choose(np.r_[[-50.0] * 3, logits], np.random.default_rng(s), 1.0, top_p=0.75) for s in range(300)}
    assert out == {3, 4}


def test_diversity_near_zero_behaves_as_greedy():
    picks = {choose(LOGITS, np.random.default_rng(s), temperature=1e-4) for s in range(50)}
    assert picks == {4}


def test_same_random_seed_same_text_and_state_is_carried():
    a = generate(stub(), [BOS_ID, 5], 30, np.random.default_rng(11))
    b = generate(stub(), [BOS_ID, 5], 30, np.random.default_rng(11))
    c = generate(stub(), [BOS_ID, 5], 30, np.random.default_rng(12))
    assert a == b and a != c
    model = stub()
    out = generate(model, [BOS_ID, 5, 6], 4, np.random.default_rng(0))
    assert model.calls[0] == [BOS_ID, 5, 6] and model.calls[1:] == [[w] for w in out[:-1]]  # seed fed once


def test_score_is_the_log_probability_of_each_word():
    logits = np.log(np.array([0.1, 0.1, 0.1, 0.5, 0.2]))
    result = score(stub(logits), [BOS_ID], [3, 4], ["a", "b"])
    assert result.logprobs == pytest.approx([np.log(0.5), np.log(0.2)])
    assert result.perplexity == pytest.approx(np.exp(-(np.log(0.5) + np.log(0.2)) / 2))
