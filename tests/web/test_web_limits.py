"""The web app under load and attack, through FastAPI's test client: tiny diversities, strict JSON
types, each limit with its status (413, 415, 429, 503) and JSON message, security headers on
every response, the Allow header, control characters removed, an honest OpenAPI document, the
round pool (dealing costs no sampling, never twice to one player, not starved by generation),
idempotent guesses, players counted, the host warning."""

import argparse
import re
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import run_script
from patentgen import results, webguard
from patentgen.roundpool import RoundPool
from patentgen.web import create_app
from patentgen.webguard import Limits

OPEN = {"rounds_rate": None, "guesses_rate": None, "generate_rate": None}


def make(tiny_game, tmp_path, play=None, **limits):
    run, game = tiny_game
    store = results.Store(tmp_path / "w.sqlite3")
    app = create_app(run, play or game, store, random_seed=0, limits=Limits(**limits))
    return app, store, TestClient(app, raise_server_exceptions=False)


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert set(response.json()) == {"error"} and "Traceback" not in message and "\n" not in message
    return message


def test_tiny_positive_diversities_write_the_greedy_text(tiny_game, tmp_path):
    _, _, client = make(tiny_game, tmp_path, **OPEN)
    body = {"seed": "a neural network", "words": 15, "random_seed": 1}
    greedy = client.post("/api/generate", json={**body, "diversity": 0}).json()["continuation"]
    for diversity in (5e-324, 2.2e-308, 1e-308, 1e-300):
        for extra in ({}, {"full": True}, {"top_p": 0.9}, {"typical_p": 0.5}):
            out = client.post("/api/generate", json={**body, **extra, "diversity": diversity})
            assert out.status_code == 200, out.text
            assert out.json()["continuation"] == greedy and out.json()["diversity"] == diversity


@pytest.mark.parametrize("path, payload, field", [
    ("/api/rounds/{id}/guess", {"option": True}, "option"),
    ("/api/rounds/{id}/guess", {"option": "1"}, "option"),
    ("/api/generate", {"words": True}, "words"),
    ("/api/generate", {"words": "7"}, "words"),
    ("/api/generate", {"words": 7.5}, "words"),
    ("/api/generate", {"diversity": True}, "diversity"),
    ("/api/generate", {"diversity": "0.5"}, "diversity"),
    ("/api/generate", {"random_seed": "3"}, "random_seed"),
    ("/api/generate", {"random_seed": False}, "random_seed"),
    ("/api/generate", {"seed": 5}, "seed"),
    ("/api/generate", {"full": 1}, "full"),
    ("/api/generate", {"full": "true"}, "full"),
    ("/api/generate", {"top_p": 0.5, "min_p": 0.1}, "choose one of top_k, top_p, min_p and typical_p, not top_p and min_p"),
    ("/api/score", {"text": 5}, "text"),
    ("/api/rounds", {"anything": 1}, "anything"),
    ("/api/rounds", [], "JSON object"),
])
def test_no_boolean_or_string_is_taken_for_a_number(tiny_game, tmp_path, path, payload, field):
    _, _, client = make(tiny_game, tmp_path, **OPEN)
    rid = client.post("/api/rounds", json={}).json()["id"]
    assert field in error_of(client.post(path.format(id=rid), json=payload), 422)


def test_a_whole_number_written_with_a_point_is_that_integer(tiny_game, tmp_path):
    _, _, client = make(tiny_game, tmp_path, **OPEN)  # JSON has one number type, and JSON Schema counts 7.0 as an integer
    out = client.post("/api/generate", json={"seed": "the processor", "diversity": 0.5, "words": 7.0, "random_seed": 2.0, "top_k": 3.0})
    assert out.status_code == 200 and out.json()["sampler"]["top_k"] == 3
    rid = client.post("/api/rounds", json={}).json()["id"]
    assert client.post(f"/api/rounds/{rid}/guess", json={"option": 2.0}).json()["choice"] == 2


def test_a_body_over_the_cap_is_refused_with_413(tiny_game, tmp_path):
    _, _, client = make(tiny_game, tmp_path, max_body=1000, **OPEN)
    big = '{"seed": "' + "a " * 700 + '"}'  # within the 2000-character seed, over the 1000-byte cap
    assert "larger than 1000 bytes" in error_of(client.post("/api/generate", content=big, headers={"content-type": "application/json"}), 413)

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"seed": "'
        for _ in range(100):
            yield b"a " * 50
        yield b'"}'

    streamed = client.post("/api/generate", content=chunks(), headers={"content-type": "application/json"})
    assert "larger than 1000 bytes" in error_of(streamed, 413)
    assert "content-security-policy" in streamed.headers
    assert client.post("/api/generate", json={"seed": "a " * 100, "words": 3}).status_code == 200  # under the cap
    assert "not a number" in error_of(client.post("/api/score", content=b"{}", headers={"content-type": "application/json", "content-length": "x"}), 400)


def test_a_streamed_body_is_cut_off_once_past_the_cap_without_reading_the_rest():
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def echo(request: Request):
        return JSONResponse({"bytes": len(await request.body())})

    guard = webguard.Guard(Starlette(routes=[Route("/", echo, methods=["POST"])]), max_body=1000)
    chunks = [{"type": "http.request", "body": b"x" * 300, "more_body": True} for _ in range(1000)]  # 300 kB, no Content-Length
    read, sent = [], []

    async def receive():
        read.append(1)
        return chunks[len(read) - 1]

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b"", "root_path": ""}
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 413 and len(read) == 4  # stopped at the first chunk past 1000 bytes
    assert b"larger than 1000 bytes" in sent[1]["body"]


@pytest.mark.parametrize("path", ["/api/rounds", "/api/rounds/{id}/guess", "/api/generate", "/api/score"])
def test_state_changing_requests_take_only_json(tiny_game, tmp_path, path):
    _, _, client = make(tiny_game, tmp_path, **OPEN)
    url = path.format(id=client.post("/api/rounds", json={}).json()["id"])
    rounds = client.get("/api/stats").json()["dealt"]
    assert "application/x-www-form-urlencoded" in error_of(client.post(url, data={"option": "1", "seed": "a", "text": "a"}), 415)  # a form from another site
    assert "text/plain" in error_of(client.post(url, content='{"option": 1}', headers={"content-type": "text/plain"}), 415)
    assert "no Content-Type" in error_of(client.post(url), 415)
    stats = client.get("/api/stats").json()
    assert (stats["dealt"], stats["guesses"]) == (rounds, 0)  # nothing was dealt or guessed


def test_each_client_has_its_own_rate_limits(tiny_game, tmp_path):
    app, _, client = make(tiny_game, tmp_path, rounds_rate="2/minute", guesses_rate="1/minute", generate_rate="1/minute")
    ids = [client.post("/api/rounds", json={}).json()["id"] for _ in range(2)]
    third = client.post("/api/rounds", json={})
    assert "too many new rounds from this address" in error_of(third, 429) and 1 <= int(third.headers["retry-after"]) <= 60
    other = TestClient(app, client=("10.0.0.2", 40000))
    assert other.post("/api/rounds", json={}).status_code == 200  # another address: its own budget
    assert client.post(f"/api/rounds/{ids[0]}/guess", json={"option": 1}).status_code == 200
    assert "too many guesses" in error_of(client.post(f"/api/rounds/{ids[1]}/guess", json={"option": 1}), 429)
    assert client.post("/api/generate", json={"words": 2}).status_code == 200
    assert "too many generate and score requests" in error_of(client.post("/api/score", json={"text": "a neural network"}), 429)  # one budget
    assert client.get("/api/stats").status_code == 200  # reading is not limited


def test_a_full_generation_queue_answers_503_with_retry_after(tiny_game, tmp_path):
    app, _, client = make(tiny_game, tmp_path, workers=1, queue=0, round_pool=0, **OPEN)
    release = threading.Event()
    app.state.work.submit(release.wait, 30)  # the only worker is busy, and no job may wait
    try:
        for path, body in [("/api/generate", {"words": 3}), ("/api/score", {"text": "a neural network"}), ("/api/rounds", {})]:
            response = client.post(path, json=body)
            assert "busy" in error_of(response, 503) and int(response.headers["retry-after"]) >= 1
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while app.state.work.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.post("/api/generate", json={"words": 3}).status_code == 200


def test_security_headers_on_every_response(tiny_game, tmp_path):
    class Broken(CountingGame):
        def new_round(self, rng, avoid=(), abstract=None):
            raise RuntimeError("secret internals")

    _, _, client = make(tiny_game, tmp_path, max_body=100, round_pool=0, play=Broken(tiny_game[1]), **OPEN)
    responses = [client.get(p) for p in ("/", "/generate", "/docs", "/static/game.js", "/static/swagger-ui/swagger-ui.css", "/favicon.ico",
                                         "/openapi.json", "/api/stats", "/nothing", "/api/rounds")]
    responses += [client.post("/api/generate", json={"words": 0}), client.post("/api/generate", content="x" * 200, headers={"content-type": "application/json"}),
                  client.post("/api/score", data={"a": "b"}), client.post("/api/rounds", json={})]
    assert [r.status_code for r in responses] == [200] * 8 + [404, 405, 422, 413, 415, 500]
    for response in responses:
        policy = response.headers["content-security-policy"]
        assert {"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} <= set(policy.split("; ")), response.url
        assert "unsafe" not in policy
        assert response.headers["x-content-type-options"] == "nosniff" and response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    assert "secret" not in responses[-1].text


def test_a_wrong_method_gets_405_with_allow(tiny_game, tmp_path):
    _, _, client = make(tiny_game, tmp_path, **OPEN)
    for method, path, allowed in [("GET", "/api/rounds", "POST"), ("DELETE", "/api/generate", "POST"), ("POST", "/api/stats", "GET")]:
        response = client.request(method, path)
        assert "Method Not Allowed" in error_of(response, 405) and response.headers["allow"] == allowed


def test_pages_run_only_their_own_scripts_and_styles(tiny_game, tmp_path):
    _, _, client = make(tiny_game, tmp_path, **OPEN)
    for path in ("/", "/generate", "/docs"):
        html = client.get(path).text
        assert not re.findall(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html, path
        assert not re.findall(r"\son[a-z]+=", html), path  # no inline event handlers
        for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            asset = client.get(url)
            assert asset.status_code == 200 and ("javascript" if url.endswith(".js") else "css") in asset.headers["content-type"], url


def test_control_and_bidirectional_characters_never_reach_the_model_or_the_page(tiny_game, tmp_path):
    _, _, client = make(tiny_game, tmp_path, **OPEN)
    out = client.post("/api/generate", json={"seed": "a\u0000 neural\u202e network\u001b zq\u2066x\u2069", "words": 5, "diversity": 0}).json()
    for text in (out["seed"], out["text"], out["continuation"], *out["unknown"]):
        assert not re.search("[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f]", text), text
    assert out["seed"] == "a neural network zqx" and out["unknown"] == ["zqx"]
    scored = client.post("/api/score", json={"text": "a\u202e neural\u0000 network"}).json()
    assert [w["word"] for w in scored["words"]] == ["a", "neural", "network"]
    assert "nothing to score" in error_of(client.post("/api/score", json={"text": "\u0000\u202e"}), 422)


def test_the_openapi_document_describes_every_status_with_its_real_body(tiny_game, tmp_path):
    _, _, client = make(tiny_game, tmp_path, **OPEN)
    spec = client.get("/openapi.json").json()
    expected = {
        ("post", "/api/rounds"): {"200", "400", "409", "413", "415", "422", "429", "500", "503"},
        ("post", "/api/rounds/{round_id}/guess"): {"200", "400", "404", "409", "413", "415", "422", "429", "500", "503"},
        ("post", "/api/generate"): {"200", "400", "413", "415", "422", "429", "500", "503"},
        ("post", "/api/score"): {"200", "400", "413", "415", "422", "429", "500", "503"},
        ("get", "/api/stats"): {"200", "400", "422", "500", "503"},
    }
    assert {(m, p) for p, ops in spec["paths"].items() for m in ops} == set(expected)
    for (method, path), codes in expected.items():
        responses = spec["paths"][path][method]["responses"]
        assert set(responses) == codes, path
        for code, response in responses.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert (ref == "#/components/schemas/Problem") == (code != "200"), (path, code)
            assert ("Retry-After" in response.get("headers", {})) == (code in ("429", "503"))
    assert spec["components"]["schemas"]["Problem"]["required"] == ["error"]
    assert "detail" not in str(spec) and "HTTPValidationError" not in str(spec)


class CountingGame:
    """The fixture game, counting the rounds it makes."""

    def __init__(self, game):
        self.game, self.made = game, 0

    def __getattr__(self, name):
        return getattr(self.game, name)

    def new_round(self, rng, avoid=(), abstract=None):
        self.made += 1
        return self.game.new_round(rng, avoid, abstract)


def as_player(client, name):
    client.headers["X-Player-Id"] = f"player-{name}"
    return client


def test_rounds_are_dealt_from_the_pool_without_sampling_and_never_twice_to_one_player(tiny_game, tmp_path):
    play = CountingGame(tiny_game[1])
    app, store, client = make(tiny_game, tmp_path, play=play, round_pool=2, round_reuse=3, **OPEN)
    pool = app.state.round_pool
    assert pool.fill_once() and pool.fill_once() and not pool.fill_once() and play.made == 2
    assert len(store.fresh(pool.dealer, 3)) == 2  # two different abstracts: the least covered first
    dealt = [as_player(client, p).post("/api/rounds", json={}).json() for p in ("a", "b", "c") for _ in range(2)]
    assert play.made == 2 and pool.ready() == 0  # six rounds, no sample drawn; each content dealt to three players
    assert len({d["id"] for d in dealt}) == 6 and all(store.get_round(d["id"]).n_words == d["n_words"] for d in dealt)
    for mine in (dealt[0:2], dealt[2:4], dealt[4:6]):  # each player got both abstracts, none twice
        assert len({d["seed"] for d in mine}) == 2 and [d["left"] for d in mine] == [len(play.abstracts) - 1, len(play.abstracts) - 2]
    again = as_player(client, "a").post("/api/rounds", json={}).json()  # the pool has nothing new for a: made on the request
    assert play.made == 3 and again["seed"] not in {d["seed"] for d in dealt[0:2]}
    assert pool.fill_once() and play.made == 4


def test_an_empty_pool_makes_the_round_on_the_request(tiny_game, tmp_path):
    play = CountingGame(tiny_game[1])
    _, store, client = make(tiny_game, tmp_path, play=play, round_pool=0, **OPEN)
    rid = client.post("/api/rounds", json={}).json()["id"]
    assert play.made == 1 and store.get_round(rid)


def test_the_pool_fills_in_the_background_while_the_app_runs(tiny_game, tmp_path):
    app, _, _ = make(tiny_game, tmp_path, round_pool=3, round_reuse=1, **OPEN)
    with TestClient(app) as client:
        pool = app.state.round_pool
        deadline = time.monotonic() + 60
        while pool.ready() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.ready() == 3
        assert client.post("/api/rounds", json={}).status_code == 200
        while pool.ready() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.ready() == 3  # refilled after a deal
    assert pool._thread is None  # stopped with the app


def test_generation_requests_cannot_starve_the_pool_refill(tiny_game, tmp_path):
    run, play = tiny_game
    store = results.Store(tmp_path / "p.sqlite3")
    pool = RoundPool(play, store, "m", size=6, reuse=1, rng=np.random.default_rng, busy=lambda: True)  # generation always waiting
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while pool.ready() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert pool.ready() == 3  # it fills half the pool, then gives way
    finally:
        pool.stop()


def test_a_repeated_guess_gets_the_same_reveal_and_stats_count_players(tiny_game, tmp_path):
    app, _, client = make(tiny_game, tmp_path, **OPEN)
    other = TestClient(app, client=("10.0.0.9", 1234))
    rid = client.post("/api/rounds", json={}).json()["id"]
    first = client.post(f"/api/rounds/{rid}/guess", json={"option": 3})
    again = client.post(f"/api/rounds/{rid}/guess", json={"option": 3})
    assert first.status_code == again.status_code == 200 and first.json() == again.json() and first.json()["counted"]
    assert "already answered with option 3" in error_of(client.post(f"/api/rounds/{rid}/guess", json={"option": 1}), 409)
    for c in (client, other, other):
        c.post(f"/api/rounds/{c.post('/api/rounds', json={}).json()['id']}/guess", json={"option": 1})
    stats = client.get("/api/stats").json()
    assert (stats["dealt"], stats["guesses"], stats["counted"], stats["players"]) == (4, 4, 4, 2)
    assert stats["you"]["played"] == 2 and stats["you"]["left"] == len(tiny_game[1].abstracts) - 2
    assert other.get("/api/stats").json()["you"]["played"] == 2


def test_a_server_reachable_from_other_machines_is_announced():
    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.5"):
        assert webguard.exposure_warning(host) is None, host
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        assert "no authentication" in webguard.exposure_warning(host), host


def test_limit_flags_are_checked_with_a_one_line_error():
    assert webguard.rate("off") is None and webguard.rate("5/second;100/hour") == "5/second;100/hour"
    with pytest.raises(argparse.ArgumentTypeError):
        webguard.rate("lots")
    for flag, value, message in [("--rate-rounds", "lots", "is not a rate"), ("--queue", "-1", "whole number >= 0"), ("--max-body", "0", "--max-body")]:
        result = run_script("serve.py", flag, value)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
