"""The pre-training corpus: near-duplicates of held-out documents removed (chains followed), the
target's vocabulary kept; and the interpolated n-gram peer that gets the same extra text."""

import numpy as np
import pytest

from conftest import make_abstract, write_csv
from patentgen import corpus, ngram, pipeline, pretrain
from patentgen.config import TrainConfig
from patentgen.errors import UserError
from patentgen.tokenizer import BOS_ID, UNK_ID

WORDS = [f"w{i}" for i in range(400)]


def _doc(rng, n=40):
    return list(rng.choice(WORDS, n))


def test_near_duplicates_of_held_out_documents_are_found_with_their_chains():
    rng = np.random.default_rng(0)
    held = [_doc(rng) for _ in range(3)]
    copy = held[1][:30] + [f"n{i}" for i in range(10)]  # 23 of its 33 8-grams are the held-out document's
    chained = copy[12:] + [f"m{i}" for i in range(12)]  # 21 of 33 shared with the copy, 11 with the original
    unrelated = _doc(rng)
    partial = held[2][:12] + _doc(rng, 40)  # shares some 8-grams, far from half of the shorter one
    found = pretrain.held_out_duplicates([unrelated, copy, chained, partial], held)
    assert found.tolist() == [False, True, True, False]
    assert pretrain.held_out_duplicates([chained], held).tolist() == [False]  # removed above only through the chain


def test_prepare_keeps_the_target_vocabulary_and_reports_what_it_removed(tmp_path, abstracts):
    prepared = pipeline.prepare(TrainConfig(window=10, embeddings="learned"), abstracts)
    tok = prepared.tokenizer
    test_doc = prepared.held_out["test"][0]
    rng = np.random.default_rng(3)
    extra_texts = [make_abstract(rng) + " A zorblatt frobnicates the weight matrix." for _ in range(5)]
    extra_texts.append(" ".join(test_doc))  # a copy of a test abstract: removed
    extra = pretrain.prepare([str(write_csv(tmp_path / "extra.csv", extra_texts))], tok, "patents",
                             [d for side in ("val", "test") for d in prepared.held_out[side]])
    assert (extra.read, extra.removed, len(extra.docs)) == (6, 1, 5)
    assert all(doc[0] == BOS_ID and doc.dtype == np.int32 for doc in extra.docs)
    assert UNK_ID in extra.docs[0] and tok.is_oov("zorblatt")  # a word the target never had is <unk>, not added
    expected = np.asarray(tok.document_ids(corpus.text_tokens(extra_texts[0], "patents", tok.lower, tok.state)))
    assert np.array_equal(extra.docs[0], expected)
    assert extra.summary()["near_duplicates_removed"] == 1 and 0 < extra.unk_share() < 0.5
    windows = pretrain.pretraining_windows(extra, prepared.windows["train"])
    assert len(windows.flat) == extra.tokens + len(prepared.windows["train"].flat)  # extra and the target's training side


def test_prepare_refuses_an_extra_corpus_without_text(tmp_path, abstracts):
    prepared = pipeline.prepare(TrainConfig(window=10, embeddings="learned"), abstracts)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(UserError):
        pretrain.prepare([str(empty)], prepared.tokenizer, "patents", [])


def test_documents_cuts_a_side_back_into_its_documents():
    docs = [np.array([BOS_ID, 5, 6], np.int32), np.array([BOS_ID, 7], np.int32)]
    assert [d.tolist() for d in pretrain.documents(np.concatenate(docs))] == [[BOS_ID, 5, 6], [BOS_ID, 7]]


def test_mixture_is_a_distribution_and_its_weight_follows_the_better_model():
    rng = np.random.default_rng(1)
    V = 30
    text = [np.concatenate([[BOS_ID], np.tile(rng.integers(3, V, 6), 20)]).astype(np.int32) for _ in range(4)]
    noise = [np.concatenate([[BOS_ID], rng.integers(3, V, 120)]).astype(np.int32) for _ in range(4)]
    good, bad = ngram.KneserNey(text, V, 3), ngram.KneserNey(noise, V, 3)
    flat = np.concatenate(text)
    contexts = np.stack([flat[i : i + 5] for i in range(len(flat) - 5)])
    targets = flat[5:]
    weight = ngram.fit_weight(good, bad, contexts, targets)
    assert weight >= 0.9  # the text's own model earns nearly all the weight
    assert ngram.fit_weight(bad, good, contexts, targets) <= 0.1
    mixed = ngram.Mixture(good, bad, 0.3)
    probs = np.exp(mixed.last_logits(contexts[:7]))
    assert np.allclose(probs.sum(axis=1), 1.0)
    expected = 0.3 * good.probabilities(contexts[:7]) + 0.7 * bad.probabilities(contexts[:7])
    assert np.allclose(probs, expected)


def test_train_pretrains_then_fine_tunes_and_reports_both(tmp_path, corpus_csv, glove_txt, abstracts):
    import json

    from conftest import TINY_TRAIN, run_script

    rng = np.random.default_rng(11)
    prepared = pipeline.prepare(TrainConfig(data=str(corpus_csv), window=10), abstracts)
    test_text = " ".join(prepared.held_out["test"][0])  # a copy of a test abstract hides in the extra text
    extra = write_csv(tmp_path / "extra.csv", [make_abstract(rng) for _ in range(30)] + [test_text])
    out = tmp_path / "pre"
    result = run_script("train.py", "--data", str(corpus_csv), "--glove-file", str(glove_txt), "--out", str(out),
                        "--pretrain", str(extra), *TINY_TRAIN)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pretrain"]["documents_read"] == 31 and metrics["pretrain"]["near_duplicates_removed"] == 1
    phases = [row.get("phase") for row in metrics["history"]]
    assert phases[0] == "pretrain" and phases[-1] is None and metrics["pretrain"]["epochs"] == phases.count("pretrain") >= 1
    assert metrics["epochs"] == phases.count(None)  # the fine-tuning epochs; pre-training is counted apart
    seconds = [row["seconds"] for row in metrics["history"]]
    assert seconds == sorted(seconds)  # one clock across both phases
    assert json.loads((out / "config.json").read_text())["pretrain"] == [str(extra.resolve())]
    assert "1 removed as near-duplicates" in result.stdout and not (out / "pretrain").exists()  # resume state dropped


@pytest.mark.parametrize("flags, message", [
    (["--pretrain-share", "0.3"], "give --pretrain FILE too"),
    (["--pretrain", "nowhere.csv"], "nowhere.csv"),
    (["--pretrain", "x.csv", "--split", "windows"], "--split grouped"),
])
def test_train_refuses_bad_pretraining_flags(tmp_path, corpus_csv, flags, message):
    from conftest import run_script

    result = run_script("train.py", "--data", str(corpus_csv), "--out", str(tmp_path / "r"), *flags)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
