"""Open vocabulary: rare words and rates from the split, spelling generated <unk>, scoring
spellings (a proper distribution), open-vocabulary cross-entropy, a run without one."""

import itertools
import json
import math
import shutil
from collections import Counter

import numpy as np
import pytest

from conftest import TERMS
from patentgen import evaluate, generation, openvocab, runs
from patentgen.errors import UserError
from patentgen.tokenizer import UNK_ID, Tokenizer
from patentgen.windows import Windows

TRAIN = [["the", "unit", "foo", "stores", "the", "unit"], ["the", "bar", "stores", "a", "unit"], ["a", "unit", "stores"]]
VAL = [["the", "zap", "unit", "stores", "zap"], ["a", "foo", "unit", "qux", "stores", "the", "unit"]]


def toy():
    tok = Tokenizer.fit(TRAIN, min_count=2)
    return openvocab.attach(tok, TRAIN, VAL, window=3)


def test_rare_words_and_rates_come_from_the_split(tmp_path):
    tok = toy()
    ov = tok.open_vocab
    assert set(tok.vocab[3:]) == {"the", "unit", "stores", "a"} and ov.rare == {"bar": 1, "foo": 1}
    # validation <unk> targets: zap (no oov before), zap (copy of zap, 3 words back), foo (rare), qux (novel, foo before)
    assert ov.copy_prob == pytest.approx((1 + 0.5) / (2 + 1))  # 1 copy of the 2 targets with an oov word in context
    assert ov.novel_prob == pytest.approx((2 + 0.5) / (3 + 1))  # zap and qux never seen, foo was
    tok.save(tmp_path / "tokenizer.json")
    assert Tokenizer.load(tmp_path / "tokenizer.json").open_vocab == ov


def test_attach_refuses_a_corpus_that_is_not_the_runs():
    tok = Tokenizer.fit(TRAIN, min_count=2)
    with pytest.raises(UserError, match="does not give this tokenizer's counts"):
        openvocab.attach(tok, TRAIN[:2], VAL, window=3)


def test_spelling_copies_context_words_at_the_measured_rate_else_rare_words_by_count():
    rare = {"alpha": 3, "beta": 1}
    ov = openvocab.OpenVocab(rare, copy_prob=0.25, novel_prob=0.5, window=5, known=("the", "unit"))
    is_oov = lambda w: w not in {"the", "unit"}  # noqa: E731
    rng = np.random.default_rng(0)
    spelled = Counter(ov.spell("<unk>", ["the", "zorb", "unit"], is_oov, rng) for _ in range(8000))
    assert spelled["zorb"] / 8000 == pytest.approx(0.25, abs=0.02)
    assert spelled["alpha"] / spelled["beta"] == pytest.approx(3, rel=0.12)
    far = Counter(ov.spell("<unk>", ["zorb"] + ["the"] * 5, is_oov, rng) for _ in range(500))
    assert "zorb" not in far  # outside the window: nothing to copy
    right_after = Counter(ov.spell("<unk>", ["the", "zorb"], is_oov, rng) for _ in range(500))
    assert "zorb" not in right_after  # never the word just written: no "zorb zorb"


def test_char_model_is_a_distribution_over_spellings():
    model = openvocab.CharModel(["ab", "ba", "abba", "b"])
    total = sum(math.exp(model.logprob("".join(chars))) for n in range(0, 7) for chars in itertools.product("ab", repeat=n))
    assert 0.9 < total <= 1.0 + 1e-9  # spellings over the seen letters hold nearly all the mass
    assert model.logprob("abba") > model.logprob("bbbb") and model.logprob("abc") < model.logprob("abb") - 5


def test_spelling_probabilities_sum_to_one_over_words():
    ov = openvocab.OpenVocab({"ab": 2, "ba": 1}, copy_prob=0.4, novel_prob=0.3, window=4, known=("b",))
    is_oov = lambda w: w != "b"  # noqa: E731
    context = ["b", "aab"]
    words = {"".join(c) for n in range(0, 9) for c in itertools.product("ab", repeat=n)}
    total = sum(math.exp(ov.logprob(w, context, is_oov)) for w in words)
    # copy 0.4 + rare 0.6 * 0.7 + novel 0.6 * 0.3 * (char mass of a/b strings up to 8 letters, nearly 1)
    assert 0.97 < total <= 1.0 + 1e-9
    assert ov.logprob("aab", context, is_oov) > ov.logprob("aab", ["b"], is_oov)  # a copy is likelier


def test_a_long_unlikely_spelling_has_a_finite_log_probability():
    ov = openvocab.OpenVocab({"ab": 2, "ba": 1}, copy_prob=0.4, novel_prob=0.3, window=4, known=("b",))
    word = "z" * 2000  # its probability underflows as a float: the sum is taken in logs
    expected = math.log(0.3) + ov.spelling().logprob(word)  # no context word to copy: novel_prob times the spelling
    assert ov.spelling().logprob(word) < -1000 and ov.logprob(word, [], lambda w: True) == pytest.approx(expected)
    assert ov.logprob(word, [word], lambda w: True) == pytest.approx(math.log(0.4), abs=1e-9)  # a copy of the context


def test_training_stores_the_open_vocabulary_and_reports_open_cross_entropy(tiny_run):
    path, _ = tiny_run
    data = json.loads((path / "tokenizer.json").read_text())
    rare = data["open_vocab"]["rare"]
    assert set(rare) & set(TERMS) and set(rare) <= set(TERMS) | {"it", "also", "learns"} and set(rare.values()) == {1}
    test = json.loads((path / "metrics.json").read_text())["test"]["full_context"]
    assert test["unk_share"] > 0 and test["open_ce"] > test["ce"]


def test_open_cross_entropy_matches_word_by_word_scoring(tiny_run, corpus_csv):
    """Oracle: evaluate's batched windows vs the decode loop's scores, on each test document's
    first full-context target, <unk> targets included."""
    run = runs.load_inference(tiny_run[0])
    window = run.config["window"]
    cut = []  # pieces of `window` words: one full-context target each, the last word after <s> + the rest
    for d in runs.split_tokens(run, "test", data=str(corpus_csv)):
        oov = [j for j in range(window - 1, len(d)) if run.tokenizer.is_oov(d[j])]
        cut += [d[j - window + 1 : j + 1] for j in [window - 1] + oov[:2] if j < len(d)]
    assert sum(run.tokenizer.is_oov(d[-1]) for d in cut) >= 3 and sum(not run.tokenizer.is_oov(d[-1]) for d in cut) >= 3
    ids = [np.asarray(run.tokenizer.document_ids(d), np.int32) for d in cut]
    windows = Windows.from_docs(ids, window, [run.tokenizer.spelling_logprobs(d) for d in cut])
    result = evaluate.full_context(run.lm, windows.flat, windows.starts, window, spelling=windows.spelling)
    scores = [generation.score_tokens(run, d[-1:], d[:-1]).logprobs[0] for d in cut]
    assert result["targets"] == len(cut)
    assert result["open_ce"] == pytest.approx(-np.mean(scores), abs=1e-4)
    closed = [generation.score_tokens(run, d[-1:], d[:-1]).logprobs[0] - run.tokenizer.spelling_logprobs(d)[-1] for d in cut]
    assert result["ce"] == pytest.approx(-np.mean(closed), abs=1e-4)


def test_generated_unk_is_spelled_as_a_real_word(tiny_run):
    run = runs.load_inference(tiny_run[0])
    seed = run.tokenizer.text_to_tokens("the neural network stores the zorblax weight")
    rng = np.random.default_rng(0)
    spelled = []
    for _ in range(40):
        cont = generation.continue_text(run, seed, 30, rng, generation.sampling.Sampler(2.0))
        assert "<unk>" not in cont.words and len(cont.words) == 30
        spelled += [w for i, w in zip(cont.ids, cont.words) if i == UNK_ID]
    assert spelled and set(spelled) <= set(run.tokenizer.open_vocab.rare) | {"zorblax"}


def test_a_run_without_an_open_vocabulary_never_writes_unk(tiny_run, tmp_path):
    closed = tmp_path / "closed"
    shutil.copytree(tiny_run[0], closed)
    data = json.loads((closed / "tokenizer.json").read_text())
    del data["open_vocab"]
    (closed / "tokenizer.json").write_text(json.dumps(data))
    run = runs.load_inference(closed)
    assert not run.tokenizer.emits_unk
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert UNK_ID not in generation.continue_text(run, "the processor", 30, rng, generation.sampling.Sampler(2.0)).ids
