"""The real server (serve.py on a free port, the fixture model): 20 parallel guesses on one round
(the same option: the same reveal; another: 409), a 100 MB body refused with 413 before it is
sent, slow, idle and surplus connections closed, forwarded addresses trusted only from the named
proxy, Host names checked, no rate limit for the one local user, a damaged results file refused,
the warning for a non-loopback --host, and a bounded schemathesis run over the whole API that must
find no server error and no response outside the OpenAPI document."""

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


def post(url: str, body, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, None if body is None else json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})
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
    assert json.loads(urllib.request.urlopen(server + "/api/stats").read())["guesses"] == 1


def read_reply(conn) -> str:
    """What the server sends until it closes the connection (it does after a 413)."""
    parts = []
    while chunk := conn.recv(65536):
        parts.append(chunk)
    return b"".join(parts).decode()


def test_a_huge_body_is_refused_before_it_is_sent(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
        conn.sendall(b'{"seed": "' + b"a" * 1000)  # 1 kB of the announced 100 MB
        reply = read_reply(conn)
    assert reply.startswith("HTTP/1.1 413") and '"error"' in reply and "65536 bytes" in reply
    with socket.create_connection((host, int(port)), timeout=10) as conn:  # chunked: refused once past the cap
        conn.sendall(b"POST /api/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
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


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1000) == b""
    except ConnectionResetError:
        return True


def test_slow_idle_and_surplus_connections_are_closed(tiny_run, corpus_csv, tmp_path):
    proc, url = start(tiny_run, corpus_csv, tmp_path / "c.sqlite3", "--request-timeout", "1", "--max-connections", "6")
    port = port_of(url)
    try:
        began = time.monotonic()
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)  # sends nothing at all
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)  # sends its head a byte every 0.2 s
        for byte in b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1234567890\r\n\r\n":
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
        assert closed_by_server(slow) and closed_by_server(idle) and time.monotonic() - began < 9
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(6)]
        surplus = socket.create_connection(("127.0.0.1", port), timeout=10)
        reply = surplus.recv(1000).decode()
        assert reply.startswith("HTTP/1.1 503") and "too many open connections" in reply and closed_by_server(surplus)
        for sock in (held, idle, slow, surplus):
            for s in sock if isinstance(sock, list) else [sock]:
                s.close()
        time.sleep(0.5)
        with urllib.request.urlopen(url + "/api/stats", timeout=10) as response:  # served again once they are gone
            assert response.status == 200
    finally:
        stop(proc)


def test_forwarded_addresses_are_trusted_only_from_the_named_proxy_and_host_names_are_checked(tiny_run, corpus_csv, tmp_path):
    proc, url = start(tiny_run, corpus_csv, tmp_path / "f.sqlite3", "--round-pool", "0", "--rate-rounds", "2/minute")
    try:
        codes = [post(url + "/api/rounds", {}, {"X-Forwarded-For": f"10.0.0.{i}"})[0] for i in range(3)]
        assert codes == [200, 200, 429]  # no proxy named: one local client rotating the header escapes nothing
        status, body = post(url + "/api/rounds", {}, {"Host": "rebound.attacker.example"})
        assert status == 400 and "does not answer to the name" in body["error"]
        # the one person at the keyboard: no generate limit on loopback (it was 10 a minute)
        assert [post(url + "/api/generate", {"words": 2})[0] for _ in range(12)] == [200] * 12
    finally:
        stop(proc)
    proc, url = start(tiny_run, corpus_csv, tmp_path / "g.sqlite3", "--round-pool", "0", "--rate-rounds", "2/minute", "--proxy", "127.0.0.1")
    try:
        codes = [post(url + "/api/rounds", {}, {"X-Forwarded-For": address})[0] for address in ["10.0.0.1"] * 2 + ["10.0.0.2"] * 2 + ["10.0.0.1"]]
        assert codes == [200, 200, 200, 200, 429]  # behind the named proxy: each forwarded client its own budget
        status, body = post(url + "/api/rounds", {}, {"X-Forwarded-For": "not-an-ip"})
        assert status == 400 and "X-Forwarded-For header holds no client address" in body["error"]
    finally:
        stop(proc)


def test_a_damaged_results_file_is_refused_at_start_with_one_line(tiny_run, corpus_csv, tmp_path):
    from conftest import GAME_RULES, run_script

    db = tmp_path / "bad.sqlite3"
    db.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84 + b"garbage" * 1000)
    result = run_script("serve.py", "--model", str(tiny_run[0]), "--data", str(corpus_csv), "--db", str(db),
                        "--seed-words", str(GAME_RULES["seed_words"]), "--port", "1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and f"cannot use {db} as the results database" in result.stderr
    assert "--db PATH" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sqlite3"]  # no -wal or -shm left behind
