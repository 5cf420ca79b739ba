"""The SQLite results store: idempotent schema (and the upgrade of a schema-1 file), one guess
per round (the same guess again: the same reveal), stats by diversity band and distinct clients,
and the pool of prepared rounds: each dealt at most ``reuse`` times, every deal a new round."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from patentgen import results
from patentgen.errors import UserError
from patentgen.game import HUMAN, MODEL, Option, Round


def make_round(rid, human=1, diversities=(0.6, 1.1)):
    div = iter(diversities)
    options = tuple(Option(f"text {rid} {i}", HUMAN, None) if i == human else Option(f"text {rid} {i}", MODEL, next(div)) for i in (1, 2, 3))
    return Round(rid, 7, "seed words", options, 30)


def test_schema_is_idempotent_and_an_old_file_keeps_its_rounds(tmp_path):
    path = tmp_path / "sub" / "g.sqlite3"
    store = results.Store(path)
    store.add_round(make_round("a"), "models/x")
    store.guess("a", 1)
    again = results.Store(path)  # a restart
    assert again.get_round("a") == make_round("a")
    assert again.stats().played == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == results.SCHEMA_VERSION


def test_a_guess_is_stored_once_and_unknown_rounds_are_refused(tmp_path):
    store = results.Store(tmp_path / "g.sqlite3")
    store.add_round(make_round("a", human=2), "m")
    reveal = store.guess("a", 2)
    assert reveal.correct and reveal.human == 2
    assert store.guess("a", 2) == reveal  # a retry whose answer was lost: the same reveal
    with pytest.raises(results.AlreadyAnswered, match="already answered with option 2"):
        store.guess("a", 1)
    with pytest.raises(results.RoundNotFound):
        store.guess("zzz", 1)
    with pytest.raises(UserError):
        store.guess("a", 5)
    assert store.stats().played == 1


def test_parallel_guesses_on_one_round_store_exactly_one(tmp_path):
    store = results.Store(tmp_path / "g.sqlite3")
    store.add_round(make_round("a"), "m")

    def attempt(choice):
        try:
            return store.guess("a", choice).choice
        except results.AlreadyAnswered:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, [1, 2, 3] * 5))
    winner = next(o for o in outcomes if o != "refused")
    assert outcomes.count(winner) == 5 and outcomes.count("refused") == 10  # every send of the stored choice got its reveal
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT round_id, choice FROM guesses").fetchall() == [("a", winner)]


def test_stats_count_human_found_and_fool_rate_per_band(tmp_path):
    store = results.Store(tmp_path / "g.sqlite3")
    # r1: human 1 found; r2: model at 0.6 picked; r3: model at 1.25 picked; r4: dealt, not played
    for rid, human, divs, choice in [("r1", 1, (0.6, 1.1), 1), ("r2", 3, (0.6, 0.9), 1), ("r3", 2, (0.7, 1.25), 3), ("r4", 1, (0.8, 0.8), None)]:
        store.add_round(make_round(rid, human, divs), "m")
        if choice:
            store.guess(rid, choice)
    stats = store.stats()
    assert (stats.rounds, stats.played, stats.human_picked) == (4, 3, 1)
    bands = {b["band"]: (b["shown"], b["picked"]) for b in stats.bands}
    assert bands == {"0.50-0.75": (3, 1), "0.75-1.00": (1, 0), "1.00-1.25": (2, 1)}
    assert stats.to_json()["human_rate"] == pytest.approx(1 / 3)
    assert "played 3" in "\n".join(stats.lines())
    assert store.stats(model="other").rounds == 0


def test_unusable_database_files_give_a_clear_error(tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="--db"):
        results.Store(junk)
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(UserError, match="newer patentgen"):
        results.Store(newer)


def test_stats_count_distinct_clients_of_guessed_rounds(tmp_path):
    store = results.Store(tmp_path / "g.sqlite3")
    for rid, client in [("a", "c1"), ("b", "c1"), ("c", "c2"), ("d", None)]:
        store.add_round(make_round(rid), "m")
        store.guess(rid, 1, client=client)
    store.add_round(make_round("e"), "m")  # dealt, not guessed: not counted
    stats = store.stats()
    assert (stats.played, stats.clients) == (4, 2) and stats.to_json()["clients"] == 2
    assert "by 2 distinct clients" in stats.lines()[0]


def test_a_schema_1_file_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(results.SCHEMA.split("CREATE TABLE IF NOT EXISTS prepared")[0])
        conn.execute("INSERT INTO rounds VALUES ('old', 0, 'm', 1, 'seed', 30)")
        conn.execute("INSERT INTO guesses VALUES ('old', 0, 1, 1)")
        conn.execute("PRAGMA user_version=1")
    store = results.Store(path)
    store.add_round(make_round("new"), "m")
    store.guess("new", 2, client="c1")
    assert (store.stats().played, store.stats().clients) == (2, 1)
    assert len(store.client_key()) == 16 and results.Store(path).client_key() == store.client_key()  # kept across restarts


def test_prepared_rounds_are_dealt_as_new_rounds_and_retired_when_fresh_ones_come(tmp_path):
    store = results.Store(tmp_path / "g.sqlite3")
    store.add_prepared(make_round("p1", human=1), "dealer-a", size=1, reuse=3)
    assert store.fresh("dealer-a", 3) == 1 and store.fresh("dealer-b", 3) == 0
    assert store.deal("dealer-b", "m", lambda n: list(range(n))) is None  # another model or rules: not dealt
    dealt = [store.deal("dealer-a", "m", lambda n: [2, 0, 1]) for _ in range(4)]
    assert store.fresh("dealer-a", 3) == 0  # dealt 4 times: no longer fresh, but still dealt until replaced
    assert len({r.id for r in dealt}) == 4 and "p1" not in {r.id for r in dealt}
    for rnd in dealt:
        assert [o.text for o in rnd.options] == ["text p1 3", "text p1 1", "text p1 2"] and rnd.human == 2
        assert store.get_round(rnd.id) == rnd  # stored: it can be guessed
    store.add_prepared(make_round("p2"), "dealer-a", size=1, reuse=3)  # the fresh one retires the used one
    assert store.fresh("dealer-a", 3) == 1 and store.deal("dealer-a", "m", lambda n: list(range(n))).options[0].text == "text p2 1"
    assert store.stats().rounds == 5


def test_parallel_deals_take_the_least_dealt_prepared_round(tmp_path):
    store = results.Store(tmp_path / "g.sqlite3")
    for i in range(4):
        store.add_prepared(make_round(f"p{i}"), "d", size=4, reuse=5)

    def deal(_):
        return store.deal("d", "m", lambda n: list(range(n))).options[0].text.split()[1]

    with ThreadPoolExecutor(8) as pool:
        sources = list(pool.map(deal, range(30)))
    assert sorted(sources.count(f"p{i}") for i in range(4)) == [7, 7, 8, 8]  # spread evenly
    assert store.stats().rounds == 30 and store.fresh("d", 5) == 0
