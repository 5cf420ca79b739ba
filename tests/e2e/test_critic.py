"""Critic-guided decoding: the critics' features, a critic that learns what tells human clauses
from generated ones, the decoder keeping the best candidate, and run folders without a critic refused."""

import json

import numpy as np
import pytest

from conftest import run_script
from patentgen import critic, generation, runs, sampling
from patentgen.errors import UserError

ENDS = frozenset({5})  # "." in these hand-made texts
UNIT = np.eye(80)[:, :60]  # (V, E) one direction per word (ids >= 60 all point nowhere)


def test_features_count_what_they_say():
    history = [10, 60, 61, 62, 63, 64]
    found = dict(zip(critic.FEATURES, critic.features([64, 61, 62, 63, 5], [-1.0, -2.0, -3.0, -4.0, -0.5], history, UNIT, ENDS)))
    assert found["fluency"] == pytest.approx(-2.1) and found["weakest"] == -4.0
    assert found["stutters"] == 1  # "64 64"
    assert found["repeats"] == pytest.approx(1 / 5)  # the 3-gram "61 62 63" said again
    assert found["ended"] == 1.0 and found["length"] == pytest.approx(5 / critic.MAX_CLAUSE)
    two = dict(zip(critic.FEATURES, critic.features([60, 61, 60, 61], [-1.0] * 4, [3, 4], UNIT, ENDS)))
    assert two["stutters"] == 1 and two["ended"] == 0.0  # "60 61 60 61": a two-word phrase again at once


def test_topic_is_the_cosine_of_content_words_with_the_text():
    unit = np.zeros((80, 2))
    unit[60:70] = [1.0, 0.0]
    unit[70:80] = [0.0, 1.0]
    near = critic.features([61, 62], [-1.0, -1.0], [60, 63, 64], unit, ENDS)[critic.FEATURES.index("topic")]
    far = critic.features([71, 72], [-1.0, -1.0], [60, 63, 64], unit, ENDS)[critic.FEATURES.index("topic")]
    assert near == pytest.approx(1.0) and far == pytest.approx(0.0)


def test_critic_round_trips_and_refuses_other_features():
    found = critic.Critic((1.0, 0.5, 0, 0, 0, 0, 0), (2.0,) * 7, 0.7)
    again = critic.Critic.from_json(json.loads(json.dumps(found.to_json())))
    assert again == found
    assert found.score(np.array([[2.0, 0, 0, 0, 0, 0, 0], [0, 4.0, 0, 0, 0, 0, 0]])).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        critic.Critic.from_json({**found.to_json(), "features": ["fluency"]})
    flat = critic.Critic((1.0,) * 7, (1.0, 1e-7, 1, 1, 1, 1, 1))  # a critic that never varied keeps its tiny scale
    assert critic.Critic.from_json(flat.to_json()).scale[1] == 1e-7
    still = critic.Critic((1.0,) * 7, (1.0, 0.0, 1, 1, 1, 1, 1))  # ... and a zero scale scores 0, not NaN
    assert np.isfinite(still.score(np.ones((2, 7)))).all()


def test_fit_learns_that_stuttering_clauses_are_not_human(tiny_run):
    run = runs.load_inference(tiny_run[0])
    docs = [np.asarray(run.tokenizer.document_ids(d)) for d in runs.split_tokens(run, "val")] * 4

    def stutter(logits, text):  # a "model" that says its last word again, half the time
        return int(text[-1]) if len(text) % 2 else int(np.argmax(logits[3:]) + 3)

    ends = critic.clause_ends(run.tokenizer.index)
    found = critic.fit(run.lm, docs, stutter, ends, np.random.default_rng(0), places=120)
    weights = dict(zip(critic.FEATURES, found.weights))
    assert weights["stutters"] < 0 and found.accuracy >= 0.9


def _guided(run, weights, seed=3):
    guide = critic.Guide(critic.Critic(tuple(weights), (1.0,) * len(critic.FEATURES)), critic.clause_ends(run.tokenizer.index),
                         critic.unit_embeddings(run.lm))
    sampler = sampling.from_description({"temperature": 1.0, "critic": 6})
    _, ids = generation.seed_ids(run, "the neural network receives the input data")
    return sampling.generate(run.lm.next_logits, ids, 60, np.random.default_rng(seed), sampler, generation.banned_ids(run),
                             lm=run.lm, critic=guide), guide.ends


def test_the_decoder_keeps_the_candidate_the_critic_scores_highest(tiny_run):
    run = runs.load_inference(tiny_run[0])
    length = critic.FEATURES.index("length")
    longest, ends = _guided(run, [1.0 if i == length else 0.0 for i in range(len(critic.FEATURES))])
    shortest, _ = _guided(run, [-1.0 if i == length else 0.0 for i in range(len(critic.FEATURES))])
    assert len(longest) == len(shortest) == 60
    # preferring long clauses leaves fewer clause ends than preferring short ones
    assert sum(w in ends for w in longest) < sum(w in ends for w in shortest)
    again, _ = _guided(run, [1.0 if i == length else 0.0 for i in range(len(critic.FEATURES))])
    assert again == longest  # repeatable from the random seed


def test_train_fits_a_critic_and_generate_uses_it(tiny_run):
    out, result = tiny_run
    config = json.loads((out / "config.json").read_text())
    assert config["critic"]["features"] == list(critic.FEATURES) and 0 <= config["critic"]["accuracy"] <= 1
    assert "critics fitted" in result.stdout
    done = run_script("generate.py", "--model", str(out), "--seed", "the neural network", "--critic", "4", "--random-seed", "1",
                      "--words", "20", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sampler"]["critic"] == 4


def test_a_run_folder_without_a_critic_is_refused_in_one_line(tiny_run, tmp_path):
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(tiny_run[0], copy)
    config = json.loads((copy / "config.json").read_text())
    del config["critic"]
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="older patentgen .config.json has no critic"):
        runs.load_inference(copy)
    done = run_script("generate.py", "--model", str(copy), "--seed", "the network", "--critic", "4")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "retrain it" in done.stderr


def test_critic_decoding_needs_the_model_and_its_critic(tiny_run):
    run = runs.load_inference(tiny_run[0])
    sampler = sampling.from_description({"critic": 4})
    with pytest.raises(UserError, match="fitted critic"):
        sampler.decode(lambda ids, state: run.lm.next_logits(ids, state), [1], 5, np.random.default_rng(0), (), lm=run.lm)
