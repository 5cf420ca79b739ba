"""Game rounds: held-out abstracts only, uniform placement of the human text, a right reveal, one
key per abstract (near-duplicates and same seeds together), no abstract twice to a player, and the
terminal program (game.py) on piped input."""

import sqlite3
from collections import Counter

import numpy as np
import pytest

from conftest import GAME_RULES, run_script
from patentgen import game, runs
from patentgen.errors import UserError


def stub_game(n_docs=5, length=100, rules=game.Rules()):
    docs = {10 + i: [f"w{i}_{k}" for k in range(length)] for i in range(n_docs)}
    calls = []

    def sample(seed, n, sampler, rng):
        calls.append((tuple(seed), n, sampler.temperature))
        return ["model"] * n

    return game.Game(docs, sample, rules), docs, calls


def test_human_option_is_uniformly_placed():
    play, _, _ = stub_game()
    rng = np.random.default_rng(0)
    places = Counter(play.new_round(rng).human for _ in range(3000))
    assert set(places) == {1, 2, 3}
    for count in places.values():  # expected 1000 each; 4 standard deviations is 103
        assert abs(count - 1000) < 103, places


def test_round_has_one_human_two_model_options_of_equal_length():
    play, docs, calls = stub_game(rules=game.Rules(seed_words=50, min_words=30, max_words=50))
    rng = np.random.default_rng(1)
    for _ in range(50):
        calls.clear()
        rnd = play.new_round(rng)
        tokens = docs[rnd.doc_id]
        assert 30 <= rnd.n_words <= 50
        assert rnd.seed == game.display(tokens[:50])
        human = rnd.options[rnd.human - 1]
        assert human.text == game.display(tokens[50 : 50 + rnd.n_words], tokens[:50]) and human.diversity is None
        models = [o for o in rnd.options if o.source == game.MODEL]
        assert len(models) == 2 and all(o.text == game.display(["model"] * rnd.n_words, tokens[:50]) for o in models)
        assert all(game.Rules().low <= o.diversity <= game.Rules().high for o in models)
        assert [c[:2] for c in calls] == [(tuple(tokens[:50]), rnd.n_words)] * 2
        assert sorted(c[2] for c in calls) == sorted(o.diversity for o in models)


def test_short_documents_give_short_but_equal_continuations_and_too_short_ones_are_skipped():
    play, _, _ = stub_game(length=85)
    assert all(play.new_round(np.random.default_rng(s)).n_words <= 35 for s in range(20))
    with pytest.raises(UserError, match="no held-out abstract"):
        stub_game(length=79)


def test_reveal_says_right_or_wrong_and_which_was_which():
    play, _, _ = stub_game()
    rnd = play.new_round(np.random.default_rng(2))
    for choice in (1, 2, 3):
        reveal = rnd.reveal(choice)
        assert reveal.correct == (choice == rnd.human)
        data = reveal.to_json()
        assert data["human_option"] == rnd.human and data["choice"] == choice
        assert [o["source"] for o in data["options"]].count("human") == 1
        assert data["options"][rnd.human - 1]["diversity"] is None
    for bad in (0, 4, True, "2", 1.0):
        with pytest.raises(UserError, match="1, 2 or 3"):
            rnd.reveal(bad)


def test_public_view_hides_the_answer():
    play, _, _ = stub_game()
    rnd = play.new_round(np.random.default_rng(3))
    public = rnd.public()
    assert set(public) == {"id", "seed", "options", "n_words"}
    assert all(isinstance(o, str) for o in public["options"])
    assert "human" not in str(public) and "diversity" not in str(public)


def test_rounds_come_from_the_held_out_sides_only(tiny_game, corpus_csv):
    run, play = tiny_game
    held_out = set(runs.split_indices(run, "test") + runs.split_indices(run, "val"))
    assert play.ids and set(play.ids) <= held_out and set(play.ids) & set(runs.split_indices(run, "val"))
    assert not set(play.ids) & set(runs.split_indices(run, "train"))
    assert set(game.from_run(run, play.rules, str(corpus_csv), sides=("test",)).ids) == set(play.ids) & set(runs.split_indices(run, "test"))
    texts = runs.corpus_texts(run, str(corpus_csv))
    rng = np.random.default_rng(4)
    for _ in range(10):
        rnd = play.new_round(rng)
        tokens = run.tokenizer.text_to_tokens(texts[rnd.doc_id])
        assert rnd.seed == game.display(tokens[:10]) and rnd.abstract == play.abstract_of[rnd.doc_id]
        assert rnd.options[rnd.human - 1].text == game.display(tokens[10 : 10 + rnd.n_words], tokens[:10])


def test_near_duplicates_and_abstracts_with_one_seed_share_a_key():
    words = [f"w{k}" for k in range(100)]
    docs = {1: words, 2: words[:90] + ["x"] * 10, 3: words[:50] + [f"y{k}" for k in range(50)], 4: [f"z{k}" for k in range(100)]}
    keys = game.abstract_keys(docs, 50, "abc")
    assert keys[1] == keys[2] == keys[3] == "abc:1" and keys[4] == "abc:4"  # 2: a near-duplicate of 1; 3: the same seed
    assert game.abstract_keys(docs, 10, "abc")[3] == "abc:1"


def test_a_player_is_dealt_every_abstract_once_then_told_none_is_left():
    play, docs, _ = stub_game(n_docs=6)
    rng, seen = np.random.default_rng(0), set()
    for _ in range(6):
        rnd = play.new_round(rng, avoid=seen)
        assert rnd.abstract not in seen
        seen.add(rnd.abstract)
    assert seen == play.abstracts and len(seen) == 6
    with pytest.raises(game.AllSeen, match="played all 6 abstracts"):
        play.new_round(rng, avoid=seen)
    assert play.new_round(rng, abstract=sorted(seen)[2]).abstract == sorted(seen)[2]
    assert play.dealer("m") == play.dealer("m") != play.dealer("other") != stub_game(rules=game.Rules(low=0.5, high=0.6))[0].dealer("other")


def play_cli(tiny_run, corpus_csv, db, stdin, *extra):
    args = ["--model", str(tiny_run[0]), "--data", str(corpus_csv), "--db", str(db), "--seed-words", str(GAME_RULES["seed_words"]), *extra]
    return run_script("game.py", *args, stdin=stdin)


def test_terminal_game_reprompts_scores_quits_and_stores(tiny_run, corpus_csv, tmp_path):
    db = tmp_path / "game.sqlite3"
    result = play_cli(tiny_run, corpus_csv, db, "maybe\n4\n1\n2\nq\n", "--random-seed", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("is not an option") == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0] == 3  # the third was dealt, then q
        guesses = conn.execute("SELECT choice, correct FROM guesses ORDER BY created").fetchall()
    assert [g[0] for g in guesses] == [1, 2]
    right = sum(g[1] for g in guesses)
    assert f"score: {guesses[0][1]} of 1" in result.stdout and f"final score: {right} of 2" in result.stdout
    stats = play_cli(tiny_run, corpus_csv, db, "", "--stats")
    assert stats.returncode == 0 and "rounds dealt 3, played 2" in stats.stdout


def test_terminal_game_never_deals_a_player_an_abstract_twice_and_says_when_none_is_left(tiny_run, tiny_game, corpus_csv, tmp_path):
    db, total = tmp_path / "g.sqlite3", len(tiny_game[1].abstracts)
    first = play_cli(tiny_run, corpus_csv, db, "1\n" * 3, "--random-seed", "0", "--player", "ann")
    assert first.returncode == 0 and f"{total - 1} abstracts left" in first.stdout
    rest = play_cli(tiny_run, corpus_csv, db, "2\n" * (total + 3), "--random-seed", "0", "--player", "ann")  # the same random seed again
    assert rest.returncode == 0 and f"you have played all {total} abstracts" in rest.stdout and "final score: " in rest.stdout
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT c.abstract, r.player FROM rounds r JOIN contents c ON c.id = r.content").fetchall()
    assert len(rows) == total and len({a for a, _ in rows}) == total  # each abstract once
    other = play_cli(tiny_run, corpus_csv, db, "1\n", "--random-seed", "0", "--player", "bob", "--rounds", "1")
    assert other.returncode == 0 and f"{total - 1} abstracts left" in other.stdout  # another player starts afresh


@pytest.mark.parametrize("script", ["game.py", "serve.py"])
def test_a_negative_random_seed_is_refused_before_anything_is_written(tiny_run, corpus_csv, tmp_path, script):
    db = tmp_path / "g.sqlite3"
    result = run_script(script, "--model", str(tiny_run[0]), "--data", str(corpus_csv), "--db", str(db), "--random-seed", "-1")
    assert result.returncode == 2 and "--random-seed: -1 is negative; a random seed is a whole number >= 0" in result.stderr and "Traceback" not in result.stderr
    assert not db.exists()


def test_terminal_game_stops_cleanly_at_end_of_input_and_after_rounds(tiny_run, corpus_csv, tmp_path):
    result = play_cli(tiny_run, corpus_csv, tmp_path / "a.sqlite3", "")
    assert result.returncode == 0, result.stderr
    assert "final score: 0 of 0" in result.stdout and not result.stderr
    result = play_cli(tiny_run, corpus_csv, tmp_path / "b.sqlite3", "1\n2\n3\n", "--rounds", "2")
    assert result.returncode == 0 and "final score:" in result.stdout and " of 2;" in result.stdout


def test_terminal_game_without_its_corpus_says_where_to_put_it(tiny_run, tmp_path):
    result = run_script("game.py", "--model", str(tiny_run[0]), "--data", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "g.sqlite3"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not found" in result.stderr and "--data" in result.stderr
    assert "Traceback" not in result.stderr


def test_human_continuations_stop_before_words_the_model_cannot_write():
    docs = {1: [f"w{k}" for k in range(100)], 2: [f"w{k}" for k in range(100)], 3: [f"w{k}" for k in range(100)]}
    docs[1][50 + 35] = "novel"  # 35 writable words, then one the model could not write
    docs[2][50 + 10] = "novel"  # only 10: too few for a round
    docs[3][50 + 5] = "seedword"  # never seen in training, but in the seed: the model can copy it
    docs[3][7] = "seedword"
    writable = lambda word, seed: word.startswith("w") or word in seed  # noqa: E731
    play = game.Game(docs, lambda seed, n, sampler, rng: ["w0"] * n, game.Rules(), writable)
    assert play.ids == [1, 3] and play.offered == 3 and play.room[1] == 35
    for s in range(40):
        rnd = play.new_round(np.random.default_rng(s))
        assert "novel" not in rnd.options[rnd.human - 1].text.lower()
        assert rnd.n_words <= (35 if rnd.doc_id == 1 else 50)


def test_rounds_of_a_run_use_only_writable_words_and_open_vocabulary_samples(tiny_game):
    run, play = tiny_game
    assert play.ids and len(play.ids) <= play.offered
    rng = np.random.default_rng(5)
    for _ in range(15):
        rnd = play.new_round(rng)
        tokens = play.docs[rnd.doc_id]
        seed, human = tokens[:10], tokens[10 : 10 + rnd.n_words]
        assert all(run.tokenizer.can_write(w, seed) for w in human)
        assert all("<unk>" not in o.text for o in rnd.options)


def test_game_sampler_and_band_come_from_the_rules():
    play, _, calls = stub_game(rules=game.Rules(low=0.9, high=0.9, sampler={"top_p": 0.5, "repetition_penalty": 1.1}))
    play.new_round(np.random.default_rng(0))
    assert [c[2] for c in calls] == [0.9, 0.9]
    with pytest.raises(UserError, match="top_p must be"):
        game.Rules(sampler={"top_p": 2})


def test_stats_and_failed_starts_create_no_database(tiny_run, corpus_csv, tmp_path):
    import socket

    db = tmp_path / "sub" / "g.sqlite3"
    stats = run_script("game.py", "--stats", "--db", str(db))
    assert stats.returncode == 0 and "no rounds played yet" in stats.stdout and not db.exists() and not db.parent.exists()
    base = ["--model", str(tiny_run[0]), "--db", str(db), "--seed-words", str(GAME_RULES["seed_words"])]
    no_corpus = run_script("game.py", *base, "--data", str(tmp_path / "missing.csv"))
    assert no_corpus.returncode == 2 and not db.parent.exists()
    no_corpus = run_script("serve.py", *base, "--data", str(tmp_path / "missing.csv"))
    assert no_corpus.returncode == 2 and "not found" in no_corpus.stderr and not db.parent.exists()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = run_script("serve.py", *base, "--data", str(corpus_csv), "--port", str(busy.getsockname()[1]))
    assert taken.returncode == 2 and "cannot listen" in taken.stderr and not db.parent.exists()
