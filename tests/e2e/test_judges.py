"""The game judges and the generation-quality measures: intervals, guessers that must find a
planted tell, repetition and distinctness, the trained judge, and cache weights fitted by likelihood."""

import json

import numpy as np
import pytest

from bench import game_judges, generation as gen_bench
from patentgen import runs
from patentgen.config import ROOT


def test_wilson_interval():
    low, high = game_judges.wilson(100, 300)
    assert low == pytest.approx(0.2827, abs=1e-3) and high == pytest.approx(0.3880, abs=1e-3)
    assert game_judges.wilson(0, 10)[0] == 0.0 and game_judges.wilson(10, 10)[1] == pytest.approx(1.0)


class LengthOnly:
    """Features stub: only the option's length in characters."""

    def of(self, seed, text):
        return {"length in characters": (game_judges.STATISTICAL, len(text))}


def test_guessers_find_a_planted_tell_and_ties_are_chance():
    rng = np.random.default_rng(0)
    rounds = []
    for _ in range(600):
        human = int(rng.integers(3))
        options = ["short text" if i != human else "a much longer human text" for i in range(3)]
        rounds.append(game_judges.Played("seed", options, human, [0.9, 0.9]))
    rows = {r["guesser"]: r for r in game_judges.judge(rounds, LengthOnly())}
    assert rows["highest: length in characters"]["rate"] == 1.0
    assert rows["odd one out: length in characters"]["rate"] == 1.0
    # lowest: a tie between the two model options, never the human
    assert rows["lowest: length in characters"]["rate"] == 0.0
    same = [game_judges.Played("seed", ["x", "x", "x"], r.human, []) for r in rounds]
    tie = {r["guesser"]: r for r in game_judges.judge(same, LengthOnly())}["highest: length in characters"]
    assert tie["low"] < 1 / 3 < tie["high"]  # all tied: broken at random, chance


def test_repetition_and_distinct():
    cont = "a b c d a b c d e".split()
    assert game_judges.repeated_share(cont, 4) == pytest.approx(1 / 6)  # "a b c d" again, of 6 4-grams
    inside, with_seed = gen_bench.repetition(cont, "x y b c d e".split())
    assert inside == pytest.approx(1 / 6) and with_seed == pytest.approx(2 / 6)  # and "b c d e" was in the seed
    assert gen_bench.distinct([["a", "b"], ["a", "c"]], 1) == pytest.approx(3 / 4)
    stats = gen_bench.text_stats([(["s"], "the cat sat . the cat ran .".split())], lambda w: w == "ran")
    assert stats["sentence_length"] == 4 and stats["oov_share"] == pytest.approx(1 / 8)
    assert stats["repeated_words"] == pytest.approx(1 - 5 / 8)


def test_trained_judge_learns_a_separable_difference_and_not_noise():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]

    def text(extra=""):
        return " ".join(rng.choice(words, 30)) + extra

    pairs = [(text(" wherein said"), text()) for _ in range(120)]
    accuracy, _ = gen_bench.trained_judge(pairs[:80], pairs[80:])
    assert accuracy > 0.95
    noise = [(text(), text()) for _ in range(120)]
    accuracy, _ = gen_bench.trained_judge(noise[:80], noise[80:])
    assert accuracy < 0.7


def test_cache_weights_fitted_on_text_that_repeats_itself(tiny_run, corpus_csv):
    run = runs.load_inference(tiny_run[0])
    docs = runs.split_tokens(run, "val", data=str(corpus_csv))
    fitted = gen_bench.fit_caches(run, docs)
    assert fitted["loglik_with"] >= fitted["loglik_without"] and fitted["targets"] > 100
    repeated = [doc + doc for doc in docs]  # every phrase occurs again: the phrase cache must earn weight
    assert gen_bench.fit_caches(run, repeated)["phrase_cache"] >= 0.3


def test_longest_run_counts_words_not_punctuation():
    from bench.short_seeds import longest_run

    assert longest_run("a sample sample sample from".split()) == 3
    assert longest_run(". . . . a".split()) == 1 and longest_run([]) == 0


def test_default_is_the_hardest_setting_that_repeats_no_more_than_people():
    from bench.short_seeds import choose

    human = {"rep4": 0.02, "rep4_with_seed": 0.04}
    long_rows = [
        {"setting": "loops", "sampler": {"temperature": 0.5}, "rep4": 0.01, "rep4_with_seed": 0.02, "judge_accuracy": 0.6},
        {"setting": "plain", "sampler": {"temperature": 1.0}, "rep4": 0.0, "rep4_with_seed": 0.0, "judge_accuracy": 0.7},
        {"setting": "band", "sampler": {"band": [0.8, 1.0]}, "rep4": 0.0, "rep4_with_seed": 0.0, "judge_accuracy": 0.5},
        {"setting": "repeats", "sampler": {"temperature": 0.9}, "rep4": 0.03, "rep4_with_seed": 0.0, "judge_accuracy": 0.55},
    ]
    short = {name: {"rep4": 0.0, "rep4_with_seed": 0.0} for name in ("plain", "band", "repeats")}
    short["loops"] = {"rep4": 0.1, "rep4_with_seed": 0.1}  # fine from long seeds, loops from short ones
    assert choose(long_rows, human, short, human)["setting"] == "plain"
    assert choose(long_rows[:1], human, short, human) is None


def test_the_default_sampler_is_the_one_the_benchmark_chose():
    from patentgen.config import DEFAULT_SAMPLER

    chosen = json.loads((ROOT / "bench" / "short_seeds.json").read_text())["chosen"]
    rules = {"no_stutter", "no_repeat_ngram"}  # the repetition rules bench/REPETITION.md holds it to, on top
    assert chosen is not None and {k: v for k, v in DEFAULT_SAMPLER.items() if k not in rules} == chosen["sampler"]
    assert rules <= set(DEFAULT_SAMPLER)
