"""The SQLite results store: idempotent schema, one guess per round, stats by diversity band."""

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
    with pytest.raises(results.AlreadyAnswered):
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
            store.guess("a", choice)
            return "stored"
        except results.AlreadyAnswered:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, [1, 2, 3] * 5))
    assert outcomes.count("stored") == 1 and outcomes.count("refused") == 14


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
