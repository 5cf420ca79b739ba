"""The sampler with stub models of fixed logits: greedy, temperature, top-k, top-p, min-p,
typical, the anti-repetition processors, the chain's order, descriptions, bad options,
repeatability; the caches and the draw against their plain computation."""

import math

import numpy as np
import pytest

from patentgen import sampling
from patentgen.errors import UserError
from patentgen.sampling import (MinP, NoRepeatNGram, RepetitionPenalty, Sampler, TopK, TopP, Typical, from_description,
                                generate, score)
from patentgen.tokenizer import BOS_ID, PAD_ID, UNK_ID

LOGITS = np.array([9.0, 8.0, 7.0, 1.0, 3.0, 2.5, 0.5, -1.0])  # pad, unk and <s> score highest
BANNED = (PAD_ID, UNK_ID, BOS_ID)


def stub(logits=LOGITS):
    calls = []

    def next_logits(ids, state):
        calls.append(list(ids))
        return logits, (state or 0) + len(ids)

    next_logits.calls = calls
    return next_logits


def draws(sampler, logits=LOGITS, n=300, history=()):
    return {sampler.next_id(logits, np.random.default_rng(s), history, BANNED) for s in range(n)}


def test_greedy_picks_the_argmax_of_allowed_words():
    assert Sampler(0.0).next_id(LOGITS, None, (), BANNED) == 4
    assert from_description({"temperature": 0, "top_k": 3}) == Sampler(0.0)  # greedy: no filter


def test_banned_ids_are_never_emitted_and_unk_only_when_allowed():
    out = generate(stub(), [BOS_ID], 500, np.random.default_rng(0), Sampler(5.0), banned=BANNED)
    assert not set(BANNED) & set(out) and len(set(out)) == 5
    out = generate(stub(), [BOS_ID], 500, np.random.default_rng(0), Sampler(5.0), banned=sampling.ALWAYS_BANNED)
    assert UNK_ID in out and not {PAD_ID, BOS_ID} & set(out)


def test_top_k_never_draws_outside_the_k_best():
    assert draws(Sampler(2.0, TopK(2))) == {4, 5}


def test_top_p_never_draws_outside_the_nucleus():
    logits = np.r_[[-50.0] * 3, np.log([0.5, 0.3, 0.15, 0.05])]
    assert draws(Sampler(1.0, TopP(0.75)), logits) == {3, 4}
    assert draws(Sampler(1.0, TopP(0.85)), logits) == {3, 4, 5}


def test_min_p_keeps_words_near_the_best_one():
    logits = np.r_[[-50.0] * 3, np.log([0.5, 0.3, 0.15, 0.05])]
    assert draws(Sampler(1.0, MinP(0.25)), logits) == {3, 4, 5}  # 0.15 >= 0.25 * 0.5, 0.05 is not
    assert draws(Sampler(1.0, MinP(0.7)), logits) == {3}


def test_typical_keeps_the_words_closest_to_the_entropy():
    # one likely word (0.4) and 60 of 0.01: entropy 3.13 nats is nearer the rare words' surprisal
    # (4.61) than the likely word's (0.92), so a 0.3 typical set is 30 rare words
    logits = np.log(np.r_[[1e-9] * 3, 0.4, [0.01] * 60])
    kept = Sampler(1.0, Typical(0.3)).distribution(logits, (), BANNED) > 0
    assert not kept[3] and kept[4:].sum() == 30


def test_tiny_temperatures_behave_as_greedy_without_nan():
    # logits / T overflows for these: the logits are shifted first, so the best word gets all of it
    for t in (1e-4, 1e-300, 1e-308, 2.2e-308, 5e-324):
        for desc in ({}, {"top_k": 3}, {"top_p": 0.9}, {"min_p": 0.1}, {"typical_p": 0.9}, {"repetition_penalty": 1.3, "no_repeat_ngram": 2}):
            sampler = from_description({**desc, "temperature": t})
            probs = sampler.distribution(LOGITS, [5, 4], BANNED)
            assert np.isfinite(probs).all() and probs[4] == 1.0, (t, desc)
            assert draws(sampler, n=5, history=[5, 4]) == {4}
        cached = from_description({"temperature": t, "phrase_cache": 0.3, "word_cache": 0.2}).distribution(LOGITS, [60 % 8, 5, 6], BANNED)
        assert np.isfinite(cached).all() and cached.sum() == pytest.approx(1.0)  # the caches keep their shares


def test_repetition_penalty_lowers_words_already_written():
    logits = np.array([0.0, 0.0, 0.0, 2.0, 2.0, -1.0])
    out = RepetitionPenalty(2.0)(logits, [3, 5, UNK_ID])
    assert out.tolist() == [0.0, 0.0, 0.0, 1.0, 2.0, -2.0]  # positive divided, negative multiplied, <unk> exempt
    sampler = from_description({"temperature": 0, "repetition_penalty": 3.0})
    assert sampler.next_id(np.array([-9, -9, -9, 3.0, 2.0, 0.0]), None, [3], BANNED) == 4


def test_no_repeat_ngram_bans_the_word_that_would_repeat_an_ngram():
    history = [5, 6, 7, 5, 6]
    out = NoRepeatNGram(3)(np.zeros(9), history)
    assert np.isinf(out[7]) and np.isfinite(out[[3, 4, 5, 6, 8]]).all()  # "5 6 7" exists; "5 6" is the tail
    out = NoRepeatNGram(1)(np.zeros(9), history)
    assert np.isinf(out[[5, 6, 7]]).all() and np.isfinite(out[8])
    loop = generate(stub(np.r_[[-9.0] * 3, 5.0, 4.0, 3.0, 2.0, 1.0]), [BOS_ID], 8, np.random.default_rng(0),
                    from_description({"temperature": 0, "no_repeat_ngram": 2}), banned=BANNED)
    bigrams = list(zip(loop, loop[1:]))
    assert len(bigrams) == len(set(bigrams))  # greedy would write 3 3 3 ...
    # 5 words make only 25 bigrams: past them the rule gives way instead of banning every word
    long = generate(stub(np.r_[[-9.0] * 3, 5.0, 4.0, 3.0, 2.0, 1.0]), [BOS_ID], 60, np.random.default_rng(0),
                    from_description({"temperature": 0, "no_repeat_ngram": 2}), banned=BANNED)
    assert len(long) == 60 and not set(BANNED) & set(long)


def test_description_round_trips_and_temperature_can_change():
    desc = {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.2, "no_repeat_ngram": 4}
    sampler = from_description(desc)
    assert sampler == Sampler(0.7, TopP(0.9), (RepetitionPenalty(1.2), NoRepeatNGram(4)))
    assert sampler.description() == desc and list(sampler.description()) == ["temperature", "top_p", "repetition_penalty", "no_repeat_ngram"]
    hotter = sampler.with_temperature(1.1)
    assert hotter.filter == TopP(0.9) and hotter.description() == {**desc, "temperature": 1.1}
    assert sampler.with_temperature(0).greedy
    assert from_description({}).description() == {"temperature": 1.0}


@pytest.mark.parametrize("desc, message", [
    ({"repetition_penalty": 0.9}, "repetition_penalty must be a finite number >= 1"),
    ({"repetition_penalty": math.nan}, "repetition_penalty must be"),
    ({"no_repeat_ngram": -1}, "no_repeat_ngram must be a whole number from 0 to 1,000"),
    ({"no_repeat_ngram": 2**1024 - 1}, "no_repeat_ngram must be a whole number"),  # no OverflowError
    ({"top_k": 10**400}, "top_k must be a whole number from 1 to 1,000,000"),
    ({"top_k": 1e300}, "top_k must be"),
    ({"top_p": 0}, r"top_p must be in \(0, 1\]"),
    ({"top_p": 1.5}, "top_p must be"),
    ({"temperature": -1}, "temperature must be a number from 0 to 5"),
    ({"temperature": math.inf}, "temperature must be"),
    ({"top_k": 2.5}, "top_k must be"),
    ({"top_k": True}, "top_k must be"),
    ({"top_k": 5, "top_p": 0.9}, "choose one of top_k, top_p, min_p and typical_p, not top_k and top_p"),
    ({"beam": 3}, "unknown sampler option 'beam'"),
])
def test_bad_descriptions_are_refused_with_their_name(desc, message):
    with pytest.raises(UserError, match=message):
        from_description(desc)


def test_a_given_strategy_replaces_the_default_one():
    defaults = {"temperature": 0.9, "top_p": 0.95, "repetition_penalty": 1.1}
    assert sampling.with_defaults({"top_k": 5, "temperature": None}, defaults) == {"temperature": 0.9, "repetition_penalty": 1.1, "top_k": 5}
    assert sampling.with_defaults({"full": True}, defaults) == {"temperature": 0.9, "repetition_penalty": 1.1}
    assert sampling.with_defaults({"temperature": 0.5}, defaults) == {**defaults, "temperature": 0.5}


def test_same_random_seed_same_text_and_state_is_carried():
    a = generate(stub(), [BOS_ID, 5], 30, np.random.default_rng(11), banned=BANNED)
    b = generate(stub(), [BOS_ID, 5], 30, np.random.default_rng(11), banned=BANNED)
    c = generate(stub(), [BOS_ID, 5], 30, np.random.default_rng(12), banned=BANNED)
    assert a == b and a != c
    model = stub()
    out = generate(model, [BOS_ID, 5, 6], 4, np.random.default_rng(0), banned=BANNED)
    assert model.calls[0] == [BOS_ID, 5, 6] and model.calls[1:] == [[w] for w in out[:-1]]  # seed fed once


def test_score_is_the_log_probability_of_each_word_plus_its_spelling():
    logits = np.log(np.array([0.1, 0.1, 0.1, 0.5, 0.2]))
    result = score(stub(logits), [BOS_ID], [3, 4], ["a", "b"])
    assert result.logprobs == pytest.approx([np.log(0.5), np.log(0.2)])
    assert result.perplexity == pytest.approx(np.exp(-(np.log(0.5) + np.log(0.2)) / 2))
    spelled = score(stub(logits), [BOS_ID], [1, 4], ["zyx", "b"], [np.log(0.25), 0.0])
    assert spelled.logprobs == pytest.approx([np.log(0.1 * 0.25), np.log(0.2)])


def test_phrase_cache_continues_a_repeated_phrase_at_its_share():
    probs = np.full(10, 0.1)
    history = [5, 6, 7, 9, 5, 6]  # "5 6" was followed by 7
    mixed = sampling.PhraseCache(0.4).mix(probs, history)
    assert mixed[7] == pytest.approx(0.6 * 0.1 + 0.4) and mixed.sum() == pytest.approx(1.0)
    assert sampling.PhraseCache(0.4).mix(probs, [5, 6, 7, 8]) is probs  # "7 8" never occurred before


def test_word_cache_reuses_the_texts_rarer_words_and_trusts_a_fuller_cache_more():
    size, top = 100, 3 + 50  # ids below `top` are the 50 most frequent words: never cached
    probs = np.full(size, 1 / size)
    cache = sampling.WordCache(0.5, skip_top=50, ramp=10)
    history = [4, 60, 61, 60, 70]  # 4 is frequent; 70 was just written
    found = cache.share(history)
    weight = 0.5 * 3 / 13
    assert found.weight == pytest.approx(weight) and dict(zip(found.ids.tolist(), found.shares)) == pytest.approx({60: 2 / 3, 61: 1 / 3})
    mixed = cache.mix(probs, history)
    assert mixed[60] == pytest.approx((1 - weight) / size + weight * 2 / 3) and mixed.sum() == pytest.approx(1.0)
    assert mixed[4] == mixed[70] == pytest.approx((1 - weight) / size)
    assert cache.share([4, 5, top - 1]) is None


def test_caches_shrink_with_temperatures_below_one_and_respect_bans():
    logits = np.r_[[9.0] * 3, 5.0, np.zeros(60)]  # word 3 dominates; 60 is in the text
    history = [60, 61, 62]
    factor = 2 / 12  # 62 was just written: 60 and 61 are cached
    for temperature, share in ((0.1, 0.1 * 0.4 * factor), (0.5, 0.5 * 0.4 * factor), (1.0, 0.4 * factor), (1.5, 0.4 * factor)):
        probs = from_description({"temperature": temperature, "word_cache": 0.4}).distribution(logits, history, BANNED)
        plain = from_description({"temperature": temperature}).distribution(logits, history, BANNED)[60:62].sum()
        assert probs[60:62].sum() == pytest.approx(share + (1 - share) * plain, rel=1e-9), temperature  # a cool text copies less
    cold = from_description({"temperature": 0.1, "word_cache": 0.4}).distribution(logits, history, BANNED)
    assert cold[62] < 1e-9  # the model's share is on word 3
    assert cold[list(BANNED)].sum() == 0
    banned_copy = from_description({"temperature": 1.0, "word_cache": 0.4}).distribution(logits, [UNK_ID, 60], BANNED)
    assert banned_copy[UNK_ID] == 0 and banned_copy.sum() == pytest.approx(1.0)
    assert Sampler(0.0, caches=(sampling.WordCache(0.9),)).next_id(logits, None, history, BANNED) == 3


# The caches and the draw written out the plain way, the reference the fast code must match.
def reference_distribution(logits, history, banned, word=0.1, phrase=0.3, skip_top=3, ramp=10, temperature=1.0):
    logits = np.array(logits, np.float64)
    logits[list(banned)] = -np.inf
    probs = np.exp(sampling.log_softmax((logits - logits.max()) / temperature))
    cached = [w for w in history if w >= 3 + skip_top and w != history[-1]]
    word, phrase = word * min(temperature, 1.0), phrase * min(temperature, 1.0)  # copies shrink with a cool text
    if cached:
        b = word * len(cached) / (len(cached) + ramp)
        probs = (1 - b) * probs + b * np.bincount(cached, minlength=len(probs)) / len(cached)
    followers = [history[i + 2] for i in range(len(history) - 2)
                 if list(history[i : i + 2]) == list(history[-2:]) and history[i + 2] not in (PAD_ID, UNK_ID, BOS_ID)]
    if followers:
        probs = (1 - phrase) * probs + phrase * np.bincount(followers, minlength=len(probs)) / len(followers)
    probs[~np.isfinite(logits)] = 0.0
    return probs / probs.sum()


def test_cached_sampling_matches_the_plain_computation_step_by_step():
    size, rng = 12, np.random.default_rng(3)
    table = rng.normal(0, 2, (80, size))  # the stub model's logits at each step
    sampler = Sampler(1.0, caches=(sampling.WordCache(0.1, skip_top=3), sampling.PhraseCache(0.3)))
    seed = [BOS_ID, 7, 8, 1, 7, 8, 9, 7]  # repeats from the start; <unk> in the text but banned

    def model(ids, state):
        step = (state or 0) + len(ids)
        return table[step], step

    for s in range(5):
        out = generate(model, seed, 60, np.random.default_rng(s), sampler, banned=BANNED)
        history, draws_rng, expected = list(seed), np.random.default_rng(s), []
        for step in range(60):
            probs = reference_distribution(table[len(seed) + step], history, BANNED)
            np.testing.assert_allclose(sampler.distribution(table[len(seed) + step], history, BANNED), probs, rtol=0, atol=1e-12)
            expected.append(int(draws_rng.choice(size, p=probs)))
            history.append(out[step])
        assert out == expected


def test_draw_is_numpys_choice_and_followers_the_plain_scan():
    rng = np.random.default_rng(0)
    for s in range(200):
        probs = rng.dirichlet(np.full(rng.integers(1, 30), 0.3))
        assert sampling.draw(probs, np.random.default_rng(s)) == np.random.default_rng(s).choice(len(probs), p=probs)
    for k in (1, 2, 3):
        for _ in range(50):
            history = [int(w) for w in rng.integers(0, 5, rng.integers(0, 40))]
            plain = [history[i + k] for i in range(len(history) - k) if history[i : i + k] == history[len(history) - k :]]
            assert sampling.PhraseCache(0.5, k).followers(history) == [w for w in plain if w not in (PAD_ID, UNK_ID, BOS_ID)]


# ----- the schema: one declaration per option, from which every caller is built ------------------
def test_every_option_is_a_flag_a_web_field_and_a_sampler_setting_with_one_range():
    from patentgen import cli, samplerschema, web

    parser = cli.Parser(prog="t")
    cli.add_sampler_flags(parser, sampling.DEFAULT)
    fields = web.GenerateRequest.model_json_schema()["properties"]
    assert set(sampling.FILTERS) == set(samplerschema.STRATEGIES)
    assert set(sampling.RULES) | set(sampling.CACHES) | set(sampling.FILTERS) | {"temperature", "critic"} == set(samplerschema.KEYS)
    for option in samplerschema.OPTIONS:
        inside = option.low + 1 if option.type is int else (option.low + (option.high or option.low + 1)) / 2
        assert from_description({option.key: inside}).description()[option.key] == inside
        outside = option.low - 1
        with pytest.raises(UserError, match=f"^{option.key} must be"):
            from_description({option.key: outside})
        with pytest.raises(SystemExit):  # the flag takes the same range
            parser.parse_args([option.flag, str(outside)])
        assert getattr(parser.parse_args([option.flag, str(inside)]), option.name) == inside
        bounds = next(b for b in fields[option.name]["anyOf"] if b.get("type") != "null")  # the web field too
        assert bounds.get("minimum", bounds.get("exclusiveMinimum")) == option.low
        if option.type is int:
            assert bounds["type"] == "integer" and bounds["maximum"] == option.high  # every integer bounded


def test_errors_name_an_option_as_its_caller_knows_it():
    from patentgen import samplerschema as schema

    with pytest.raises(UserError, match=r"^diversity must be a number from 0 to 5 \(0 is greedy\), not -1$"):
        schema.resolve({"diversity": -1}, sampling.DEFAULT)  # the web API and Python: never "temperature"
    with pytest.raises(UserError, match="^--diversity must be"):
        schema.resolve({"diversity": -1}, sampling.DEFAULT, schema.FLAG)
    with pytest.raises(UserError, match="^full means no filter; drop it or top_k$"):
        schema.resolve({"full": True, "top_k": 5}, sampling.DEFAULT)
    with pytest.raises(UserError, match="^--full means no filter; drop it or --top-p$"):
        schema.resolve({"full": True, "top_p": 0.5}, sampling.DEFAULT, schema.FLAG)
    with pytest.raises(UserError, match="unknown sampler option 'temperature'; the options are diversity, top_k"):
        schema.resolve({"temperature": 0.5}, {})
    assert schema.resolve({"diversity": 0.5, "top_k": 5, "full": False}, {"temperature": 1.0, "top_p": 0.9, "word_cache": 0.1}) == \
        {"temperature": 0.5, "top_k": 5, "word_cache": 0.1}



def test_no_stutter_bans_saying_the_last_words_again_at_once():
    logits = np.zeros(20)
    stutter = sampling.NoStutter(2)
    assert np.isneginf(stutter(logits, [5, 6, 7])[7]) and np.isfinite(stutter(logits, [5, 6, 7])[6])  # "7 7"
    assert np.isneginf(stutter(logits, [4, 6, 5, 6])[5])  # "5 6 5 6": the two-word phrase again
    assert np.isfinite(sampling.NoStutter(1)(logits, [4, 6, 5, 6])[5])  # only single words at n = 1
    assert np.isfinite(stutter(logits, [UNK_ID])[UNK_ID])  # <unk> stands for many words
    sampler = from_description({"temperature": 1.0, "no_stutter": 2})
    rng = np.random.default_rng(0)
    for _ in range(30):  # a model that wants to repeat itself never does, back to back
        history = [int(w) for w in rng.integers(3, 20, 6)]
        favour = np.full(20, -5.0)
        favour[history[-1]] = 10.0
        assert sampler.next_id(favour, rng, history, BANNED) != history[-1]
    assert sampler.description()["no_stutter"] == 2


def test_the_chain_runs_bans_rules_temperature_filter_then_mixes_the_caches():
    desc = {"temperature": 0.7, "top_k": 4, "repetition_penalty": 1.3, "no_stutter": 1, "word_cache": 0.2, "phrase_cache": 0.1}
    sampler = from_description(desc)
    assert sampler.rules == (RepetitionPenalty(1.3), sampling.NoStutter(1)) and sampler.filter == TopK(4)
    assert sampler.caches == (sampling.WordCache(0.2), sampling.PhraseCache(0.1))  # the word cache first, as fitted
    logits = np.random.default_rng(5).normal(0, 2, 80)
    history = [60, 61, 62, 60, 61, 70, 70]
    expected = np.array(logits, np.float64)  # the chain, written out
    expected[list(BANNED)] = -np.inf
    expected = sampling.NoStutter(1)(RepetitionPenalty(1.3)(expected, history), history)
    with np.errstate(divide="ignore"):
        expected = TopK(4)((expected - expected.max()) / 0.7)
    probs = np.exp(sampling.log_softmax(expected))
    probs = sampling.PhraseCache(0.1 * 0.7).mix(sampling.WordCache(0.2 * 0.7).mix(probs, history), history)
    np.testing.assert_allclose(sampler.distribution(logits, history, BANNED), probs / probs.sum(), rtol=0, atol=1e-15)
    assert sampler.distribution(logits, history, BANNED)[70] == 0  # the stutter stays banned for the copies
