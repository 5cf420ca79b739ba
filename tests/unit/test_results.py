"""The SQLite results store: the schema, one guess per round (the same guess again: the same
reveal), contents dealt never twice to one player, informed guesses flagged, statistics that
count a player's first guess on a round with intervals that allow for clustering, the pool of
prepared contents, pruning, the start-up checks and storage failures while running."""

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from patentgen import results
from patentgen.errors import UserError
from patentgen.game import HUMAN, MODEL, Option, Round

SETTING = {"model": "m", "sampler": {}, "band": [0.85, 0.95], "seed_words": 50, "words": [30, 50]}


def make_round(rid, human=1, abstract=None, diversities=(0.9, 0.9)):
    div = iter(diversities)
    options = tuple(Option(f"text {rid} {i}", HUMAN, None) if i == human else Option(f"text {rid} {i}", MODEL, next(div)) for i in (1, 2, 3))
    return Round(rid, 7, "seed words", options, 30, abstract or f"c:{rid}")


def store_at(path, dealer="d"):
    store = results.Store(path)
    store.add_setting(dealer, {**SETTING, "model": dealer})
    return store


def dealt(store, rid, player, human=1, abstract=None, dealer="d"):
    """A round made for ``player`` and dealt as it is."""
    return store.add_round(make_round(rid, human, abstract), dealer, player)


def test_schema_is_idempotent_and_a_restart_keeps_rounds_and_the_key(tmp_path):
    path = tmp_path / "sub" / "g.sqlite3"
    store = store_at(path)
    rnd = dealt(store, "a", "p1")
    store.guess(rnd.id, 1, "p1", "addr")
    again = results.Store(path)  # a restart
    assert again.get_round(rnd.id) == rnd and again.stats().guesses == 1
    assert again.opaque("player x") == store.opaque("player x") != store.opaque("player y")
    assert results.Store(tmp_path / "other.sqlite3").opaque("player x") != store.opaque("player x")  # keyed per file
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == results.SCHEMA_VERSION


def test_a_guess_is_stored_once_and_unknown_rounds_are_refused(tmp_path):
    store = store_at(tmp_path / "g.sqlite3")
    rnd = dealt(store, "a", "p1", human=2)
    reveal = store.guess(rnd.id, 2, "p1", "addr")
    assert reveal.correct and reveal.human == 2 and reveal.counted
    assert store.guess(rnd.id, 2, "p1", "addr") == reveal  # a retry whose answer was lost: the same reveal
    with pytest.raises(results.AlreadyAnswered, match="already answered with option 2"):
        store.guess(rnd.id, 1, "p1", "addr")
    with pytest.raises(results.RoundNotFound):
        store.guess("zzz", 1, "p1", "addr")
    with pytest.raises(UserError):
        store.guess(rnd.id, 5, "p1", "addr")
    assert store.stats().guesses == 1


def test_parallel_guesses_on_one_round_store_exactly_one(tmp_path):
    store = store_at(tmp_path / "g.sqlite3")
    rid = dealt(store, "a", "p1").id

    def attempt(choice):
        try:
            return store.guess(rid, choice, "p1", "addr").choice
        except results.AlreadyAnswered:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, [1, 2, 3] * 5))
    winner = next(o for o in outcomes if o != "refused")
    assert outcomes.count(winner) == 5 and outcomes.count("refused") == 10  # every send of the stored choice got its reveal
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT round_id, choice FROM guesses").fetchall() == [(rid, winner)]


def test_a_player_is_never_dealt_an_abstract_twice_and_a_content_is_reused_only_across_players(tmp_path):
    store = store_at(tmp_path / "g.sqlite3")
    for i, abstract in enumerate(["c:1", "c:1", "c:2"]):  # two contents of one abstract
        store.add_content(make_round(f"p{i}", abstract=abstract), "d", size=10, reuse=5)
    order = lambda n: [2, 0, 1]  # noqa: E731
    first, seen = store.deal("d", "alice", order)
    second, seen = store.deal("d", "alice", order)
    assert {first.abstract, second.abstract} == {"c:1", "c:2"} == seen
    assert store.deal("d", "alice", order) is None  # the other content of c:1 shows the same human text: not dealt
    assert store.deal("d", "alice", order, content="p1") is None
    bob = [store.deal("d", "bob", order)[0] for _ in range(2)]
    assert {r.abstract for r in bob} == {"c:1", "c:2"} and store.deal("d", "bob", order) is None
    for rnd in (first, *bob):
        base = rnd.options
        assert store.get_round(rnd.id) == rnd and rnd.id not in ("p0", "p1", "p2")  # each deal its own stored round
        assert [o.text.split()[2] for o in base] == ["3", "1", "2"] and rnd.human == 2  # in the order given
    assert store.deal("other-dealer", "carol", order) is None  # another model or rules: not dealt


def test_prepared_contents_are_dealt_least_dealt_first_and_retired_when_fresh_ones_come(tmp_path):
    store = store_at(tmp_path / "g.sqlite3")
    store.add_content(make_round("p1"), "d", size=1, reuse=3)
    assert store.fresh("d", 3) == {"c:p1": 1} and store.fresh("other", 3) == {}
    for player in "abcd":
        store.deal("d", player, range)
    assert store.fresh("d", 3) == {}  # dealt 4 times: no longer fresh, but still dealt until replaced
    store.add_content(make_round("p2"), "d", size=1, reuse=3)  # the fresh one retires the used one
    assert store.fresh("d", 3) == {"c:p2": 1} and store.deal("d", "e", range)[0].options[0].text == "text p2 1"
    for i in range(3, 7):
        store.add_content(make_round(f"p{i}"), "d", size=5, reuse=3)

    def deal(player):
        return store.deal("d", player, range)[0].abstract

    with ThreadPoolExecutor(8) as pool:
        abstracts = list(pool.map(deal, [f"q{i}" for i in range(25)]))
    assert len(abstracts) == 25
    with sqlite3.connect(store.path) as conn:  # spread evenly: 26 deals in all (p2 had one before)
        assert sorted(n for (n,) in conn.execute("SELECT dealt FROM contents WHERE pooled = 1")) == [5, 5, 5, 5, 6]


def test_a_guess_from_one_shown_the_answer_is_kept_but_flagged_and_only_first_guesses_count(tmp_path):
    store = store_at(tmp_path / "g.sqlite3")
    store.add_content(make_round("x", human=1, abstract="c:x"), "d", size=5, reuse=5)
    a = store.deal("d", "alice", range)[0]
    assert store.guess(a.id, 1, "alice", "home").counted
    b = store.deal("d", "bob", range)[0]  # another player id from alice's address: it has seen the answer
    flagged = store.guess(b.id, 1, "bob", "home")
    assert flagged.correct and not flagged.counted
    c = store.deal("d", "carol", range)[0]
    assert store.guess(c.id, 2, "carol", "office").counted
    again = store.add_round(make_round("y", abstract="c:y"), "d", "carol")
    store.guess(again.id, 1, "alice", "office")  # alice guesses carol's round: her first on it, but office saw nothing of c:y
    stats = store.stats()
    assert (stats.dealt, stats.guesses, stats.counted, stats.informed, stats.repeats) == (4, 4, 3, 1, 0)
    assert (stats.overall.guesses, stats.overall.found, stats.overall.players, stats.overall.rounds) == (3, 2, 2, 2)
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM guesses WHERE informed = 1").fetchone()[0] == 1  # kept


def test_stats_per_setting_with_intervals_and_lines(tmp_path):
    store = store_at(tmp_path / "g.sqlite3", dealer="d1")
    store.add_setting("d2", {**SETTING, "model": "d2", "band": [0.5, 0.6]})
    for i in range(6):
        rnd = store.add_round(make_round(f"a{i}", human=1), "d1", f"p{i}")
        store.guess(rnd.id, 1 if i < 3 else 2, f"p{i}", f"addr{i}")  # 3 of 6 found
    rnd = store.add_round(make_round("b0", human=1), "d2", "p0")
    store.guess(rnd.id, 2, "p0", "addr0")
    stats = store.stats()
    assert [s.setting["model"] for s in stats.settings] == ["d1", "d2"]
    d1 = stats.settings[0]
    assert (d1.guesses, d1.found, d1.found_rate, d1.fool_rate) == (6, 3, 0.5, 0.25)
    low, high = d1.found_interval
    assert (low, high) == pytest.approx((0.1876, 0.8124), abs=1e-4)  # Wilson's interval: one guess per player and round
    assert d1.fool_interval == pytest.approx(((1 - high) / 2, (1 - low) / 2))
    assert stats.overall.guesses == 7 and stats.to_json()["players"] == 6
    text = "\n".join(stats.lines())
    assert "rounds dealt 7, played 7" in text and "3 of 6 times, 50.0% (95% CI 18.8%-81.2%)" in text and "diversity 0.5-0.6" in text
    assert "n/a" not in text and "distinct clients" not in text


def test_the_interval_widens_when_one_player_makes_many_of_the_guesses():
    independent = results.interval(50, 100, [[(1, 1)] * 50 + [(0, 1)] * 50])
    one_player_each_way = results.interval(50, 100, [[(50, 50), (0, 50)]])  # two players: one always right, one never
    assert independent == pytest.approx(results.interval(50, 100, []))
    assert one_player_each_way[1] - one_player_each_way[0] > 3 * (independent[1] - independent[0])
    assert results.interval(0, 5, [[(0, 5)]])[0] == 0 and results.interval(0, 5, [[(0, 5)]])[1] > 0.3  # no guess found it: still a width


def test_unguessed_rounds_are_pruned_after_the_retention_but_what_players_saw_stays(tmp_path):
    store = store_at(tmp_path / "g.sqlite3")
    kept, gone = dealt(store, "a", "p1"), dealt(store, "b", "p1")
    store.guess(kept.id, 1, "p1", "addr")
    assert store.prune(30) == 0
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE rounds SET created = created - 31 * 86400")
        conn.execute("UPDATE contents SET created = created - 31 * 86400")
    assert store.prune(30) == 1
    with pytest.raises(results.RoundNotFound):
        store.get_round(gone.id)
    assert store.get_round(kept.id) == kept and store.seen("p1") == {"c:a", "c:b"}
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM texts").fetchone()[0] == 3  # the pruned round's texts went too


def files_of(path):
    return sorted(p.name for p in path.parent.iterdir()) if path.parent.exists() else []


@pytest.mark.parametrize("setup, message", [
    (lambda p: p.write_bytes(b"this is not a database" * 100), "file is not a database"),
    (lambda p: sqlite3.connect(p).execute("PRAGMA user_version=99"), "newer patentgen"),
    (lambda p: sqlite3.connect(p).executescript("CREATE TABLE rounds (id TEXT); PRAGMA user_version=2;"), "older patentgen, schema 2"),
])
def test_unusable_database_files_give_a_clear_error_and_leave_nothing_behind(tmp_path, setup, message):
    path = tmp_path / "g.sqlite3"
    setup(path)
    before = files_of(path)
    with pytest.raises(UserError, match=f"cannot use {path} as the results database.*{message}.*--db PATH"):
        results.Store(path)
    assert files_of(path) == before  # no -wal or -shm left


def test_a_database_with_damaged_pages_is_refused_at_start(tmp_path):
    path = tmp_path / "g.sqlite3"
    store = store_at(path)
    for i in range(300):
        dealt(store, f"r{i}", f"p{i}")
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    size = path.stat().st_size
    with open(path, "r+b") as f:  # garble pages in the middle, keep the header
        f.seek(size // 2 // page * page)
        f.write(os.urandom(3 * page))
    with pytest.raises(UserError, match="damaged.*--db PATH"):
        results.Store(path)


def test_start_up_refusals_say_what_is_wrong_and_create_nothing(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(UserError, match=f"{blocker} is a file, not a folder"):
        results.Store(blocker / "sub" / "g.sqlite3")
    with pytest.raises(UserError, match="it is a folder"):
        results.Store(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    with pytest.raises(UserError, match=r"cannot write a file in /proc: \w+"):  # the system's reason, not "unable to open database file"
        results.Store("/proc/g.sqlite3")


def fill_until_full(store, tag):
    """This thread's connection meets a full disk (no page may be added) while contents are added."""
    with store._connect() as db:
        db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(results.StorageError, match="cannot be used right now .*full.*try again later"):
        for k in range(2000):
            store.add_content(make_round(f"{tag}{k}", abstract=f"c:{tag}{k}"), "d", size=10**6)


def test_a_storage_failure_while_running_is_a_storage_error_logged_once_and_the_next_call_recovers(tmp_path, caplog):
    store = store_at(tmp_path / "g.sqlite3")
    with caplog.at_level("WARNING", logger="patentgen.results"):
        fill_until_full(store, "a")
        fill_until_full(store, "b")  # failing still: not logged again
        assert [r.levelname for r in caplog.records] == ["ERROR"]
        for i in range(20):  # room again: every call works, the failed connection was dropped
            dealt(store, f"ok{i}", f"ok{i}")
        assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]  # "works again"
    assert store.stats().dealt == 20
