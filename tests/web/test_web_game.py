"""The game over HTTP as players meet it: 300 rounds for one client with no text twice and then a
clear end, players known by X-Player-Id or their address, informed guesses flagged, statistics
with intervals and no band the game never deals, storage failures as 503 with recovery, the Host
names answered, forwarded addresses checked, and the limits a server on loopback starts with."""

import contextlib
import sqlite3

import numpy as np
import pytest
from fastapi.testclient import TestClient

from patentgen import game, results
from patentgen.commands import serve
from patentgen.web import create_app
from patentgen.webguard import Limits

OPEN = {"rounds_rate": None, "guesses_rate": None, "generate_rate": None}


def many_abstracts(n: int) -> game.Game:
    """A game of ``n`` distinct abstracts whose model texts are random words."""
    docs = {i: [f"d{i}w{k}" for k in range(100)] for i in range(n)}
    vocabulary = [f"v{k}" for k in range(2000)]

    def sample(seed, words, sampler, rng):
        return [vocabulary[int(k)] for k in rng.integers(len(vocabulary), size=words)]

    return game.Game(docs, sample, game.Rules(), corpus="t")


def make(run, play, tmp_path, **limits):
    store = results.Store(tmp_path / "w.sqlite3")
    app = create_app(run, play, store, random_seed=0, limits=Limits(**{**OPEN, **limits}))
    return app, store


def test_300_rounds_for_one_client_show_no_text_twice_then_say_none_is_left(tiny_game, tmp_path):
    app, store = make(tiny_game[0], many_abstracts(300), tmp_path, round_pool=40, round_reuse=5)
    texts, seeds, lefts = [], set(), []
    with TestClient(app) as client:  # the pool fills in the background meanwhile
        for _ in range(300):
            rnd = client.post("/api/rounds", json={})
            assert rnd.status_code == 200, rnd.text
            body = rnd.json()
            texts += body["options"]
            seeds.add(body["seed"])
            lefts.append(body["left"])
            assert client.post(f"/api/rounds/{body['id']}/guess", json={"option": 1}).status_code == 200
        done = client.post("/api/rounds", json={})
        assert done.status_code == 409 and done.json() == {"error": "you have played all 300 abstracts of this game; there is no unseen one left"}
        assert client.get("/api/stats").json()["you"] == {"played": 300, "found": store.played(store.opaque("address testclient"))[1], "left": 0}
    assert len(set(texts)) == len(texts) == 900 and len(seeds) == 300  # no human or model text, no seed, twice
    assert lefts == list(range(299, -1, -1))


def test_a_player_id_is_its_own_player_and_a_guess_after_seeing_the_answer_is_flagged(tiny_game, tmp_path):
    run, play = tiny_game
    app, store = make(run, play, tmp_path, round_pool=0)
    client = TestClient(app)
    ann, bob = {"X-Player-Id": "ann-0123456789"}, {"X-Player-Id": "bob-0123456789"}
    first = client.post("/api/rounds", json={}, headers=ann).json()
    assert client.post(f"/api/rounds/{first['id']}/guess", json={"option": 1}, headers=ann).json()["counted"]
    abstract = store.get_round(first["id"]).abstract
    # bob plays from ann's address: every abstract is new to bob, but this one's answer was shown here
    for _ in range(len(play.abstracts)):
        rnd = client.post("/api/rounds", json={}, headers=bob).json()
        reveal = client.post(f"/api/rounds/{rnd['id']}/guess", json={"option": 2}, headers=bob).json()
        assert reveal["counted"] == (store.get_round(rnd["id"]).abstract != abstract)
    stats = client.get("/api/stats", headers=bob).json()
    assert (stats["guesses"], stats["counted"], stats["informed"], stats["players"]) == (len(play.abstracts) + 1, len(play.abstracts), 1, 2)
    assert stats["you"]["left"] == 0 and client.get("/api/stats", headers=ann).json()["you"]["left"] == len(play.abstracts) - 1
    plain = client.get("/api/stats").json()["you"]  # no header: the address is the player, and it has guessed nothing itself
    assert plain == {"played": 0, "found": 0, "left": len(play.abstracts)}


def test_the_statistics_show_only_settings_dealt_with_intervals(tiny_game, tmp_path):
    run, play = tiny_game
    app, _ = make(run, play, tmp_path, round_pool=0)
    client = TestClient(app)
    assert client.get("/api/stats").json()["overall"] is None
    for p in range(4):
        headers = {"X-Player-Id": f"player-{p:04d}"}
        rnd = client.post("/api/rounds", json={}, headers=headers).json()
        client.post(f"/api/rounds/{rnd['id']}/guess", json={"option": 1}, headers=headers)
    stats = client.get("/api/stats").json()
    (setting,) = stats["settings"]
    assert setting["setting"]["band"] == [play.rules.low, play.rules.high] and setting["setting"]["model"] == str(run.path)
    for key in ("human_found", "fool_rate"):
        low, high = setting[key]["ci95"]
        assert 0 <= low <= setting[key]["rate"] <= high <= 1 and high - low > 0.2  # four guesses: wide
    assert setting["fool_rate"]["shown"] == 8 and stats["overall"]["guesses"] == 4 and stats["chance"] == pytest.approx(1 / 3)


def test_a_storage_failure_is_a_503_with_a_clear_message_and_the_server_recovers(tiny_game, tmp_path, monkeypatch):
    run, play = tiny_game
    app, store = make(run, play, tmp_path, round_pool=0)
    client = TestClient(app, raise_server_exceptions=False)
    rid = client.post("/api/rounds", json={}, headers={"X-Player-Id": "before-failure"}).json()["id"]
    readonly = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)

    @contextlib.contextmanager
    def read_only():  # every connection now meets a read-only file
        try:
            yield readonly
        finally:
            if readonly.in_transaction:
                readonly.execute("ROLLBACK")

    monkeypatch.setattr(store, "_connect", read_only)
    for response in (client.post("/api/rounds", json={}, headers={"X-Player-Id": "during-failure"}),
                     client.post(f"/api/rounds/{rid}/guess", json={"option": 1}, headers={"X-Player-Id": "before-failure"})):
        assert response.status_code == 503 and response.headers["retry-after"] == "30", response.text
        assert "results database cannot be used right now" in response.json()["error"] and "readonly" in response.json()["error"]
    monkeypatch.undo()
    codes = []
    for i in range(40):  # write access is back: nothing fails any more
        headers = {"X-Player-Id": f"after-{i:04d}"}
        rnd = client.post("/api/rounds", json={}, headers=headers)
        codes += [rnd.status_code, client.post(f"/api/rounds/{rnd.json()['id']}/guess", json={"option": 1}, headers=headers).status_code]
    assert codes == [200] * 80


def test_only_the_configured_host_names_are_answered(tiny_game, tmp_path):
    run, play = tiny_game
    app, _ = make(run, play, tmp_path, allowed_hosts=("127.0.0.1", "localhost", "::1", "game.example"))
    for base in ("http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000", "http://GAME.example"):
        assert TestClient(app, base_url=base).get("/api/stats").status_code == 200, base
    for base in ("http://attacker.example", "http://attacker.example:8000", "http://127.0.0.2"):
        response = TestClient(app, base_url=base).post("/api/rounds", json={})
        assert response.status_code == 400 and "does not answer to the name" in response.json()["error"] and "--allowed-host" in response.json()["error"]


def test_behind_a_proxy_a_forwarded_address_that_is_none_is_refused(tiny_game, tmp_path):
    run, play = tiny_game
    app, _ = make(run, play, tmp_path, behind_proxy=True)
    assert TestClient(app, client=("10.1.2.3", 5)).get("/api/stats").status_code == 200
    response = TestClient(app, client=("not-an-ip", 5)).get("/api/stats")
    assert response.status_code == 400 and "X-Forwarded-For header holds no client address" in response.json()["error"]


def test_a_server_only_this_machine_reaches_starts_without_rate_limits():
    args = serve.parse([])
    local = Limits.from_args(args, local=True)
    assert (local.rounds_rate, local.guesses_rate, local.generate_rate) == (None, None, None)  # one person at the keyboard
    public = Limits.from_args(args, local=False)
    assert (public.rounds_rate, public.generate_rate) == (Limits().rounds_rate, Limits().generate_rate)
    chosen = Limits.from_args(serve.parse(["--rate-generate", "5/minute"]), local=True)
    assert chosen.generate_rate == "5/minute" and chosen.rounds_rate is None
    assert Limits.from_args(serve.parse(["--keep-days", "0"]), local=True).keep_days is None
    assert set(Limits.from_args(serve.parse(["--allowed-host", "Game.Example"]), local=True).allowed_hosts) >= {"game.example", "127.0.0.1", "localhost"}


def test_rounds_made_on_the_request_come_from_unseen_abstracts_when_the_pool_has_none(tiny_game, tmp_path):
    app, store = make(tiny_game[0], many_abstracts(5), tmp_path, round_pool=2, round_reuse=10)
    pool = app.state.round_pool
    pool.fill_once(), pool.fill_once()
    client = TestClient(app)
    seeds = [client.post("/api/rounds", json={}).json()["seed"] for _ in range(5)]
    assert len(set(seeds)) == 5 and client.post("/api/rounds", json={}).status_code == 409
    assert np.sum(list(store.fresh(pool.dealer, 10).values())) == 5  # the ones made on the request joined the pool
