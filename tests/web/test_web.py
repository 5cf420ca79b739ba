"""The web app through FastAPI's test client: pages, the JSON API, answer secrecy, every bad
input as a 4xx JSON error, and 20 parallel guesses all stored exactly once."""

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from patentgen import results
from patentgen.web import create_app


@pytest.fixture
def app_parts(tiny_game, tmp_path):
    run, play = tiny_game
    store = results.Store(tmp_path / "web.sqlite3")
    return create_app(run, play, store, random_seed=0), store


@pytest.fixture
def client(app_parts):
    return TestClient(app_parts[0], raise_server_exceptions=False)


def test_pages_and_openapi(client):
    for path, marker in [("/", "Which one did a human write?"), ("/generate", 'id="diversity"')]:
        page = client.get(path)
        assert page.status_code == 200 and marker in page.text and "text/html" in page.headers["content-type"]
    spec = client.get("/openapi.json").json()
    assert {"/api/rounds", "/api/rounds/{round_id}/guess", "/api/generate", "/api/score", "/api/stats"} <= set(spec["paths"])


def test_round_hides_the_answer_until_the_guess(client, app_parts):
    _, store = app_parts
    response = client.post("/api/rounds", json={})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "seed", "options", "n_words", "left", "abstracts"} and len(body["options"]) == 3
    assert "human" not in response.text and "model" not in response.text.replace(body["seed"], "")
    human = store.get_round(body["id"]).human
    reveal = client.post(f"/api/rounds/{body['id']}/guess", json={"option": human}).json()
    assert reveal["correct"] is True and reveal["human_option"] == human
    assert [o["text"] for o in reveal["options"]] == body["options"]
    stats = client.get("/api/stats").json()
    assert (stats["dealt"], stats["counted"], stats["overall"]["human_found"]["count"]) == (1, 1, 1)


def test_generate_and_score(client):
    out = client.post("/api/generate", json={"seed": "a neural network", "diversity": 0.5, "words": 12, "random_seed": 3}).json()
    again = client.post("/api/generate", json={"seed": "a neural network", "diversity": 0.5, "words": 12, "random_seed": 3}).json()
    assert out == again and out["text"].startswith("A neural network") and len(out["continuation"].split()) >= 6
    greedy = client.post("/api/generate", json={"seed": "the processor", "diversity": 0, "words": 5}).json()
    assert greedy["sampler"]["temperature"] == 0 and greedy == client.post("/api/generate", json={"seed": "the processor", "diversity": 0, "words": 5}).json()
    chosen = {"seed": "a neural network", "words": 20, "random_seed": 1, "diversity": 1.2, "top_k": 3, "repetition_penalty": 1.5,
              "no_repeat_ngram": 2, "phrase_cache": 0.2, "word_cache": 0.1}
    out = client.post("/api/generate", json=chosen).json()
    assert out["sampler"] == {"temperature": 1.2, "top_k": 3, "repetition_penalty": 1.5, "no_repeat_ngram": 2, "phrase_cache": 0.2,
                              "word_cache": 0.1, "no_stutter": 2}  # the default no-stutter rule kept
    words = out["continuation"].lower().replace(".", " .").replace(",", " ,").split()
    bigrams = list(zip(words, words[1:]))
    assert len(bigrams) == len(set(bigrams))  # the no-repeat rule held
    scored = client.post("/api/score", json={"text": "a neural network"}).json()
    assert [w["word"] for w in scored["words"]] == ["a", "neural", "network"] and scored["total_logprob"] < 0


@pytest.mark.parametrize(
    "path, payload, status, phrase",
    [
        ("/api/rounds/{id}/guess", {"option": 0}, 422, "option"),
        ("/api/rounds/{id}/guess", {"option": 4}, 422, "option"),
        ("/api/rounds/{id}/guess", {"option": "2"}, 422, "option"),
        ("/api/rounds/{id}/guess", {"option": 1.5}, 422, "option"),
        ("/api/rounds/{id}/guess", {}, 422, "option"),
        ("/api/rounds/{id}/guess", "not json {", 422, "not valid JSON"),
        ("/api/rounds/{id}/guess", "[1, 2]", 422, "JSON object"),
        ("/api/rounds/nosuchround/guess", {"option": 1}, 404, "no round"),
        ("/api/generate", {"seed": "x" * 2001}, 422, "2000"),
        ("/api/generate", {"seed": "a", "diversity": -0.1}, 422, "diversity"),
        ("/api/generate", '{"seed": "a", "diversity": NaN}', 422, "finite"),
        ("/api/generate", {"seed": "a", "diversity": "nan"}, 422, "diversity"),
        ("/api/generate", '{"seed": "a", "diversity": Infinity}', 422, "finite"),
        ("/api/generate", {"seed": "a", "words": 0}, 422, "words"),
        ("/api/generate", {"seed": "a", "extra": 1}, 422, "extra"),
        ("/api/generate", "plain text", 422, "not valid JSON"),
        ("/api/generate", {"seed": "a", "repetition_penalty": 0.5}, 422, "repetition_penalty"),
        ("/api/generate", '{"seed": "a", "repetition_penalty": NaN}', 422, "repetition_penalty"),
        ("/api/generate", {"seed": "a", "no_repeat_ngram": -1}, 422, "no_repeat_ngram"),
        ("/api/generate", {"seed": "a", "no_repeat_ngram": 2.5}, 422, "no_repeat_ngram"),
        ("/api/generate", {"seed": "a", "top_p": 0}, 422, "top_p"),
        ("/api/generate", {"seed": "a", "top_p": 1.5}, 422, "top_p"),
        ("/api/generate", {"seed": "a", "top_p": "0.9"}, 422, "top_p"),
        ("/api/generate", {"seed": "a", "top_k": True}, 422, "top_k"),
        ("/api/generate", {"seed": "a", "phrase_cache": 1}, 422, "phrase_cache"),
        ("/api/generate", {"seed": "a", "top_k": 5, "top_p": 0.9}, 422, "choose one of top_k, top_p, min_p and typical_p, not top_k and top_p"),
        ("/api/generate", {"seed": "a", "full": True, "top_k": 5}, 422, "full means no filter; drop it or top_k"),  # as the CLI refuses it
        ("/api/generate", {"seed": "a", "top_k": 2**1024 - 1}, 422, "top_k"),  # was a 500 (OverflowError)
        ("/api/generate", {"seed": "a", "no_repeat_ngram": 2**1024 - 1}, 422, "no_repeat_ngram"),
        ("/api/generate", {"seed": "a", "top_k": 1e300}, 422, "top_k"),
        ("/api/generate", {"seed": "a", "random_seed": 2**1024}, 422, "random_seed"),
        ("/api/score", {"text": ""}, 422, "text"),
        ("/api/score", {"text": "y" * 2001}, 422, "2000"),
        ("/api/score", {"text": "   "}, 422, "text: nothing to score, it has no words"),  # as generate.py --score refuses it
        ("/api/rounds", {}, 422, "X-Player-Id header must be 8 to 64 letters"),
    ],
)
def test_bad_input_gets_a_4xx_json_message(client, path, payload, status, phrase):
    rid = client.post("/api/rounds", json={}).json()["id"]
    url = path.format(id=rid)
    headers = {"X-Player-Id": "no spaces allowed"} if "X-Player-Id" in phrase else {}
    if isinstance(payload, str):
        response = client.post(url, content=payload, headers={**headers, "content-type": "application/json"})
    else:
        response = client.post(url, json=payload, headers=headers)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert phrase in message and "Traceback" not in response.text and "\n" not in message
    assert "--" not in message  # named as the API names it, never as a command-line flag


def test_a_guess_on_an_answered_round_is_a_conflict(client):
    rid = client.post("/api/rounds", json={}).json()["id"]
    assert client.post(f"/api/rounds/{rid}/guess", json={"option": 1}).status_code == 200
    second = client.post(f"/api/rounds/{rid}/guess", json={"option": 2})
    assert second.status_code == 409 and "already answered" in second.json()["error"]
    assert client.get("/api/stats").json()["guesses"] == 1


def test_an_unexpected_failure_is_a_json_500_without_traceback(tiny_game, tmp_path):
    run, play = tiny_game

    class Broken:
        def __getattr__(self, name):
            return getattr(play, name)

        def new_round(self, rng, avoid=(), abstract=None):
            raise RuntimeError("secret internals")

    app = create_app(run, Broken(), results.Store(tmp_path / "b.sqlite3"))
    response = TestClient(app, raise_server_exceptions=False).post("/api/rounds", json={})
    assert response.status_code == 500 and "secret" not in response.text and "Traceback" not in response.text
    assert json.loads(response.text)["error"].startswith("internal error")


def test_twenty_parallel_guesses_on_different_rounds_are_all_stored_once(client, app_parts):
    _, store = app_parts
    ids = [client.post("/api/rounds", json={}, headers={"X-Player-Id": f"player-{i % 4}"}).json()["id"] for i in range(20)]

    def guess(pair):
        i, rid = pair
        return client.post(f"/api/rounds/{rid}/guess", json={"option": i % 3 + 1}, headers={"X-Player-Id": f"player-{i % 4}"}).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(guess, enumerate(ids)))
    assert codes == [200] * 20
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT round_id, choice FROM guesses").fetchall()
    assert sorted(rows) == sorted((rid, i % 3 + 1) for i, rid in enumerate(ids))
    assert store.stats().guesses == 20


def test_api_docs_page_is_self_hosted_and_fits_its_content_security_policy(client):
    import re

    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "'unsafe-inline'" not in policy
    html = page.text
    assert not re.findall(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html  # nothing inline
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in assets and "/static/swagger-ui/swagger-ui.css" in assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url  # same origin: no CDN
        if url.startswith("/static/"):
            asset = client.get(url)
            kind = "javascript" if url.endswith(".js") else "css"
            assert asset.status_code == 200 and kind in asset.headers["content-type"], url
    assert "SwaggerUIBundle" in client.get("/static/swagger-ui/swagger-ui-bundle.js").text
    assert '"/openapi.json"' in client.get("/static/docs.js").text
    assert "/docs" not in client.get("/openapi.json").json()["paths"]
    assert client.get("/static/nothing.js").status_code == 404


def test_favicon_and_the_api_link(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon" and icon.content[:4] == b"\x00\x00\x01\x00"
    for path in ("/", "/generate", "/docs"):
        html = client.get(path).text
        assert '<a href="/docs"' in html and 'href="/favicon.ico"' in html
