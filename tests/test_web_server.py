"""The real server (serve.py on a free port, the fixture model): 20 parallel guesses on one round
(the same option: the same reveal; another: 409), a 100 MB body refused with 413 before it is
sent, the warning for a non-loopback --host, and a bounded schemathesis run over the whole API
that must find no server error and no response outside the OpenAPI document."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import start_server as start

NO_RATES = ["--rate-rounds", "off", "--rate-guesses", "off", "--rate-generate", "off"]


def stop(proc) -> tuple[str, str]:
    proc.terminate()
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


@pytest.fixture
def server(tiny_run, corpus_csv, tmp_path):
    proc, url = start(tiny_run, corpus_csv, tmp_path / "s.sqlite3", "--round-pool", "5")
    yield url
    out, err = stop(proc)
    assert "warning" not in err  # loopback: no word of warning


def post(url: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_twenty_parallel_guesses_on_one_round_store_one_and_retries_see_its_reveal(server, tmp_path):
    status, rnd = post(server + "/api/rounds", {})
    assert status == 200
    url = f"{server}/api/rounds/{rnd['id']}/guess"
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: (i % 2 + 1, *post(url, {"option": i % 2 + 1})), range(20)))
    winners = {option for option, status, _ in answers if status == 200}
    assert len(winners) == 1  # the first stored guess decides
    winner = winners.pop()
    reveals = [body for option, status, body in answers if option == winner]
    assert len(reveals) == 10 and all(r == reveals[0] and r["choice"] == winner for r in reveals)
    losers = [(status, body) for option, status, body in answers if option != winner]
    assert all(status == 409 and f"already answered with option {winner}" in body["error"] for status, body in losers)
    assert json.loads(urllib.request.urlopen(server + "/api/stats").read())["played"] == 1


def read_reply(conn) -> str:
    """What the server sends until it closes the connection (it does after a 413)."""
    parts = []
    while chunk := conn.recv(65536):
        parts.append(chunk)
    return b"".join(parts).decode()


def test_a_huge_body_is_refused_before_it_is_sent(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
        conn.sendall(b'{"seed": "' + b"a" * 1000)  # 1 kB of the announced 100 MB
        reply = read_reply(conn)
    assert reply.startswith("HTTP/1.1 413") and '"error"' in reply and "65536 bytes" in reply
    with socket.create_connection((host, int(port)), timeout=10) as conn:  # chunked: refused once past the cap
        conn.sendall(b"POST /api/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(20):
            conn.sendall(b"1000\r\n" + b"a" * 4096 + b"\r\n")  # 80 kB, never finished
        reply = read_reply(conn)
    assert reply.startswith("HTTP/1.1 413") and "65536 bytes" in reply, reply


def test_a_non_loopback_host_is_warned_about(tiny_run, corpus_csv, tmp_path):
    proc, url = start(tiny_run, corpus_csv, tmp_path / "w.sqlite3", host="0.0.0.0")
    out, err = stop(proc)
    assert "serving" in out and "--host 0.0.0.0" in err and "no authentication" in err and "skew the published stats" in err


def test_schemathesis_finds_no_server_error_and_no_response_outside_the_spec(tiny_run, corpus_csv, tmp_path):
    proc, url = start(tiny_run, corpus_csv, tmp_path / "st.sqlite3", "--round-pool", "5", *NO_RATES)
    cli = Path(sys.executable).with_name("schemathesis")  # a dev dependency (pyproject.toml)
    try:
        result = subprocess.run([str(cli), "run", url + "/openapi.json", "--checks", "all", "--max-examples", "25", "--seed", "1", "--workers", "1",
                                 "--request-timeout", "20", "--no-color"], capture_output=True, text=True, timeout=400, cwd=tmp_path)
    finally:
        stop(proc)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout and "passed" in result.stdout
