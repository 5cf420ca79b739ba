"""The cached model: the same mixture as the sampler's caches, a proper distribution, the fast
fitting path equal to scoring with the cached model, and weights that follow the text."""

import numpy as np
import pytest

from patentgen import cache, evaluate, sampling
from patentgen.tokenizer import BOS_ID

V = 80


class Stub:
    """A fixed network: log-probabilities that depend on the window's last word only."""

    arch = "stub"
    vocab_size = V

    def __init__(self, seed=0):
        self.table = np.random.default_rng(seed).normal(size=(V, V))

    def last_logits(self, ids):
        return self.table[np.asarray(ids)[:, -1]]


def _text(seed, n=400, repeat=True):
    """Words 3..V-1; with ``repeat``, documents that repeat their own rare phrases."""
    rng = np.random.default_rng(seed)
    flat = [BOS_ID]
    while len(flat) < n:
        phrase = list(rng.integers(60, V, 3))
        for _ in range(12):
            flat += phrase if repeat and rng.random() < 0.5 else list(rng.integers(3, V, 3))
    return np.asarray(flat[:n])


def test_mix_is_the_samplers_caches_at_temperature_one():
    logits = Stub().table[5]
    history = [61, 62, 63, 70, 61, 62]
    caches = cache.Caches(phrase=0.3, word=0.2)
    sampler = sampling.from_description({"temperature": 1.0, "phrase_cache": 0.3, "word_cache": 0.2})
    net = np.exp(sampling.log_softmax(logits))
    mixed = caches.mix(net, history)
    assert mixed == pytest.approx(sampler.distribution(logits, history)) and mixed.sum() == pytest.approx(1.0)
    assert mixed[63] > net[63] + 0.3 * 0.9  # "61 62" was followed by 63: most of the phrase share
    assert cache.Caches().mix(np.full(V, 1 / V), history) == pytest.approx(np.full(V, 1 / V))


def test_cached_model_is_a_distribution_and_the_network_without_weights():
    flat = _text(1)
    contexts = np.stack([flat[s : s + 20] for s in range(0, 200, 7)])
    plain = cache.CachedLM(Stub(), cache.Caches()).last_logits(contexts)
    assert plain == pytest.approx(sampling.log_softmax(Stub().last_logits(contexts)))
    mixed = np.exp(cache.CachedLM(Stub(), cache.Caches(0.4, 0.2)).last_logits(contexts))
    assert mixed.sum(axis=1) == pytest.approx(np.ones(len(contexts)))
    assert not np.allclose(mixed, np.exp(plain))


def test_fast_features_equal_scoring_with_the_cached_model():
    flat, window = _text(2), 20
    starts = np.arange(0, len(flat) - window, 3)
    found = cache.window_features(Stub(), flat, starts, window)
    for weights in [(0.0, 0.0), (0.3, 0.1), (0.6, 0.4)]:
        scored = evaluate.full_context(cache.CachedLM(Stub(), cache.Caches(*weights)), flat, starts, window)
        assert -found.loglik(*weights) == pytest.approx(scored["ce"], abs=1e-4)


def test_fitted_weights_follow_the_text():
    flat, window = _text(3, 1500), 20
    starts = np.arange(0, len(flat) - window)
    caches, with_, without = cache.fit(cache.window_features(Stub(), flat, starts, window))
    assert caches.phrase > 0.1 and with_ > without + 0.1  # phrases that repeat: the phrase cache pays
    gain = with_ - without
    flat = _text(3, 1500, repeat=False)
    caches, with_, without = cache.fit(cache.window_features(Stub(), flat, starts, window))
    assert caches.phrase <= 0.05 and with_ - without < gain / 4  # nothing repeats: little to gain


def test_a_runs_caches_raise_the_probability_of_its_repeated_phrases(tiny_run, tmp_path):
    import json
    import shutil

    from patentgen import generation, runs

    trained, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    config = json.loads((copy / "config.json").read_text())
    del config["caches"]  # as train.py --no-eval leaves it: the network alone
    (copy / "config.json").write_text(json.dumps(config))
    without_caches = runs.load_inference(copy)
    assert without_caches.caches is None
    (copy / "config.json").write_text(json.dumps({**config, "caches": {"phrase": 0.5, "word": 0.2}}))
    cached = runs.load_inference(copy)  # the tiny run's own fitted weights may be 0: set some
    assert cached.caches == cache.Caches(0.5, 0.2)
    words = "a neural network stores the weight matrix . the neural network stores the weight".split()
    with_, without = generation.score_tokens(cached, words).logprobs, generation.score_tokens(without_caches, words).logprobs
    assert with_[-1] > without[-1]  # "the neural network stores the" ... "weight": the phrase cache knows it


def test_neither_cache_copies_unk_or_reserved_ids():
    """One rule for both caches: <unk> (and padding, <s>) is never copied, though it repeats."""
    from patentgen.tokenizer import PAD_ID, UNK_ID

    history = [70, 71, UNK_ID, 70, 71, PAD_ID, 70, 71, BOS_ID, 72, 70, 71]
    assert sampling.PhraseCache(0.5).followers(history) == []  # every follower of "70 71" is reserved
    assert UNK_ID not in sampling.WordCache(0.5, skip_top=0).cached(history)
    history[2] = 73  # a real word after the phrase is copied
    assert sampling.PhraseCache(0.5).followers(history) == [73]
    found = cache.features(np.array([0.1]), [history], [UNK_ID])
    assert found.p_phrase[0] == 0 and found.p_words[0] == 0  # a <unk> target gets nothing from either cache
