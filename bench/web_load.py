"""The web game under load: concurrent players, then a flood of maximum-size generations.

    python -m bench.web_load [--model models/default] [--players 50] [--seconds 60] [--generations 60]

Starts ``serve.py`` on a free loopback port with a fresh results database (in a temporary
folder), waits until its round pool is full, then measures two phases from this process:

1. ``--players`` threads each play for ``--seconds`` as a player of its own (its ``X-Player-Id``):
   a new round (``POST /api/rounds``), then a guess at a random option, again and again (until
   the time is up, or the player has played every abstract: 409), each on its own keep-alive
   connection. Latency of every request, rounds per second, statuses.
2. ``--generations`` maximum-size ``POST /api/generate`` requests (200 words after a seed of
   2,000 characters) sent at once, while one client loads ``GET /`` every 50 ms until they
   drain: the page's latency, the generations' statuses and the time to drain.

Then it checks the database: every acknowledged round and guess is there, none twice, and no
player was dealt an abstract twice. The rate
limits are raised (``--rate``, default 1000000/minute) so that one loopback address can play
for 50, and the limiter still runs; every other server flag is its default unless given after
``--``. Writes ``WEB_LOAD.md`` and ``web_load.json`` (``--out``, default ``bench/``).
Bounded: each phase has its own time limit, and the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from patentgen.config import DEFAULT_MODEL_DIR, ROOT
from patentgen.webguard import Limits

TARGETS = {"round_p95_ms": 300, "rounds_per_s": 100, "page_p95_ms": 100}
SEED = ("a neural network comprising an input layer , a hidden layer and an output layer , wherein the hidden layer "
        "receives a weighted sum of the input values and outputs an activation to the output layer . ")


def shown(path: str) -> str:
    """A path as the report shows it: relative to the repository when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int, timeout: float = 120):
        self.port, self.timeout, self.conn = port, timeout, None

    def request(self, method: str, path: str, body=None, player: str | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds); status 0 for a failed connection."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if player is not None:
            headers["X-Player-Id"] = player
        start = time.perf_counter()
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self.conn.request(method, path, data, headers)
                response = self.conn.getresponse()
                payload = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.close()
                return response.status, payload, time.perf_counter() - start
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    return 0, b"", time.perf_counter() - start
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def start_server(args, db: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "serve.py", "--model", args.model, "--db", str(db), "--port", str(port),
               "--rate-rounds", args.rate, "--rate-guesses", args.rate, "--rate-generate", args.rate, *args.server_flags]
    if args.data:
        command += ["--data", args.data]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    client = Client(port, timeout=2)
    while client.request("GET", "/api/stats")[0] != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"serve.py did not start: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)
    client.close()
    return proc


def pool_size(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT COUNT(*) FROM contents WHERE pooled = 1").fetchone()[0]


def wait_for_pool(db: Path, want: int, limit_s: float) -> tuple[int, float]:
    start = time.monotonic()
    while (ready := pool_size(db)) < want and time.monotonic() - start < limit_s:
        time.sleep(0.5)
    return ready, time.monotonic() - start


def play(port: int, seconds: float, seed: int, log: list) -> None:
    """One player (its own id): new round, guess, again, until the time is up."""
    client, rng, player = Client(port), np.random.default_rng(seed), f"load-player-{seed:04d}"
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        status, body, took = client.request("POST", "/api/rounds", {}, player)
        log.append(("round", status, took, json.loads(body)["id"] if status == 200 else None, None))
        if status == 409:  # this player has played every abstract: it stops
            break
        if status != 200:
            continue
        rid, option = log[-1][3], int(rng.integers(1, 4))
        status, body, took = client.request("POST", f"/api/rounds/{rid}/guess", {"option": option}, player)
        log.append(("guess", status, took, rid, option if status == 200 else None))
    client.close()


def players_phase(port: int, players: int, seconds: float) -> dict:
    logs = [[] for _ in range(players)]
    threads = [threading.Thread(target=play, args=(port, seconds, i, logs[i])) for i in range(players)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 180)
    elapsed = time.monotonic() - start
    events = [e for log in logs for e in log]
    rounds = [e for e in events if e[0] == "round"]
    guesses = [e for e in events if e[0] == "guess"]
    ok_rounds = [e for e in rounds if e[1] == 200]
    return {
        "players": players, "seconds": round(elapsed, 1),
        "rounds": len(ok_rounds), "rounds_per_s": round(len(ok_rounds) / elapsed, 1),
        "guesses": sum(e[1] == 200 for e in guesses),
        "round_ms": percentiles([e[2] for e in rounds]), "guess_ms": percentiles([e[2] for e in guesses]),
        "statuses": count_statuses(events),
        "_acknowledged": ([e[3] for e in ok_rounds], [(e[3], e[4]) for e in guesses if e[1] == 200]),
    }


def generations_phase(port: int, n: int, limit_s: float) -> dict:
    seed = (SEED * 20)[:2000]
    results: list = [None] * n

    def generate(i: int) -> None:
        client = Client(port, timeout=limit_s)
        results[i] = client.request("POST", "/api/generate", {"seed": seed, "words": 200, "random_seed": i})
        client.close()

    threads = [threading.Thread(target=generate, args=(i,)) for i in range(n)]
    start = time.monotonic()
    for t in threads:
        t.start()
    page, probe = [], Client(port, timeout=30)
    time.sleep(0.2)  # all sent and queued
    while any(t.is_alive() for t in threads) and time.monotonic() - start < limit_s:
        status, _, took = probe.request("GET", "/")
        page.append((status, took))
        time.sleep(0.05)
    for t in threads:
        t.join(max(1.0, limit_s - (time.monotonic() - start)))
    probe.close()
    done = [r for r in results if r is not None]
    return {"generations": n, "drain_s": round(time.monotonic() - start, 1), "statuses": count_statuses([("generate", r[0]) for r in done]),
            "generate_ms": percentiles([r[2] for r in done]), "page_requests": len(page), "page_statuses": count_statuses([("page", s) for s, _ in page]),
            "page_ms": percentiles([t for _, t in page])}


def percentiles(seconds: list[float]) -> dict:
    if not seconds:
        return {}
    ms = np.asarray(seconds) * 1000
    return {"n": len(ms), "p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1), "max": round(float(ms.max()), 1)}


def count_statuses(events) -> dict:
    out: dict = {}
    for e in events:
        key = f"{e[0]} {e[1]}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def pool_after(db: Path, since: float) -> dict:
    """The prepared rounds in the pool after the load: how many, how often dealt (each to another
    player), how many of all were made during the load, how many distinct abstracts the pool held."""
    with sqlite3.connect(db, timeout=30) as conn:
        n, most, mean, abstracts = conn.execute("SELECT COUNT(*), MAX(dealt), AVG(dealt), COUNT(DISTINCT abstract) FROM contents WHERE pooled = 1").fetchone()
        made = conn.execute("SELECT COUNT(*) FROM contents WHERE created > ?", (since,)).fetchone()[0]
    return {"prepared": n, "max_deals": most, "mean_deals": round(mean or 0, 1), "made_during_load": made, "abstracts": abstracts}


def integrity(db: Path, rounds: list[str], guesses: list[tuple[str, int]]) -> dict:
    with sqlite3.connect(db, timeout=30) as conn:
        stored_rounds = {r[0] for r in conn.execute("SELECT id FROM rounds")}
        stored_guesses = dict(conn.execute("SELECT round_id, choice FROM guesses").fetchall())
        options = conn.execute("SELECT COUNT(*) FROM rounds r JOIN texts t ON t.content = r.content").fetchone()[0]
        repeats = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT r.player || ' ' || c.abstract) FROM rounds r JOIN contents c ON c.id = r.content").fetchone()[0]
    return {
        "rounds_acknowledged": len(rounds), "rounds_acknowledged_twice": len(rounds) - len(set(rounds)),
        "rounds_missing": len(set(rounds) - stored_rounds), "rounds_stored": len(stored_rounds), "options_stored": options,
        "guesses_acknowledged": len(guesses), "guesses_missing_or_different": sum(stored_guesses.get(r) != c for r, c in guesses),
        "guesses_stored": len(stored_guesses), "abstracts_dealt_twice_to_a_player": repeats,
    }


def verdicts(players: dict, flood: dict, checks: dict) -> dict:
    return {
        f"new-round p95 <= {TARGETS['round_p95_ms']} ms": players["round_ms"].get("p95", 1e9) <= TARGETS["round_p95_ms"],
        f">= {TARGETS['rounds_per_s']} rounds/s": players["rounds_per_s"] >= TARGETS["rounds_per_s"],
        f"GET / p95 <= {TARGETS['page_p95_ms']} ms during the generations": flood["page_ms"].get("p95", 1e9) <= TARGETS["page_p95_ms"],
        "every acknowledged round and guess stored, none twice": (checks["rounds_missing"] == checks["guesses_missing_or_different"]
                                                                 == checks["rounds_acknowledged_twice"] == 0 and checks["options_stored"] == 3 * checks["rounds_stored"]),
        "no player dealt an abstract twice": checks["abstracts_dealt_twice_to_a_player"] == 0,
    }


def markdown(report: dict) -> str:
    h, p, f, c = report["header"], report["players"], report["generations"], report["integrity"]
    lines = [
        "# Web load (`python -m bench.web_load`)", "",
        f"{h['date']}, {h['machine']}; model `{h['model']}`; command `{h['command']}`; server flags `{' '.join(h['server_flags'])}`.",
        f"Round pool before the load: {h['pool_ready']} prepared rounds (filled in {h['pool_fill_s']} s from empty). "
        f"One-minute load average of the machine (other work included): {h['load_average']['before']} before, {h['load_average']['after']} after. "
        "Written by the script; figures as measured.", "",
        "| target | met |", "| --- | --- |", *[f"| {k} | {'yes' if v else 'NO'} |" for k, v in report["verdicts"].items()], "",
        f"## {p['players']} players for {p['seconds']} s (new round, then a guess)", "",
        f"{p['rounds']} rounds ({p['rounds_per_s']}/s), {p['guesses']} guesses; statuses {p['statuses']}. "
        f"Pool afterwards: {p['pool_after']['prepared']} prepared rounds of {p['pool_after']['abstracts']} distinct abstracts, each dealt "
        f"{p['pool_after']['mean_deals']} times on average (to different players), at most {p['pool_after']['max_deals']}; "
        f"{p['pool_after']['made_during_load']} rounds were made during the load (by the pool's thread, or on a request that found none unseen).", "",
        "| request | n | p50 ms | p95 ms | p99 ms | max ms |", "| --- | --- | --- | --- | --- | --- |",
        *[f"| {name} | {m.get('n')} | {m.get('p50')} | {m.get('p95')} | {m.get('p99')} | {m.get('max')} |"
          for name, m in (("POST /api/rounds", p["round_ms"]), ("POST /api/rounds/{id}/guess", p["guess_ms"]))], "",
        f"## {f['generations']} maximum-size generations at once (200 words, 2,000-character seed)", "",
        f"Drained in {f['drain_s']} s; statuses {f['statuses']}; generate latency p50 {f['generate_ms'].get('p50')} ms, max {f['generate_ms'].get('max')} ms.",
        f"`GET /` every 50 ms meanwhile: {f['page_requests']} requests, statuses {f['page_statuses']}, "
        f"p50 {f['page_ms'].get('p50')} ms, p95 {f['page_ms'].get('p95')} ms, max {f['page_ms'].get('max')} ms.", "",
        "## Integrity (the results database afterwards)", "",
        f"{c['rounds_acknowledged']} rounds acknowledged, {c['rounds_missing']} missing, {c['rounds_acknowledged_twice']} acknowledged twice "
        f"({c['rounds_stored']} stored, {c['options_stored']} options); {c['guesses_acknowledged']} guesses acknowledged, "
        f"{c['guesses_missing_or_different']} missing or different ({c['guesses_stored']} stored); "
        f"{c['abstracts_dealt_twice_to_a_player']} abstracts dealt twice to one player.", "",
    ]
    return "\n".join(lines)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: %(default)s)")
    p.add_argument("--data", help="the run's corpus, if not where it recorded")
    p.add_argument("--players", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--generations", type=int, default=60)
    p.add_argument("--generation-limit", type=float, default=300, help="seconds the generation phase may take (default: %(default)s)")
    p.add_argument("--pool-timeout", type=float, default=600, help="seconds to wait for a full round pool (default: %(default)s)")
    p.add_argument("--rate", default="1000000/minute", help="every rate limit of the server (default: %(default)s)")
    p.add_argument("--out", default=str(ROOT / "bench"), help="folder for WEB_LOAD.md and web_load.json (default: bench/)")
    p.add_argument("server_flags", nargs="*", help="more serve.py flags, after --")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="web_load-") as tmp:
        db, port = Path(tmp) / "load.sqlite3", free_port()
        proc = start_server(args, db, port)
        try:
            want = next((int(v) for k, v in zip(args.server_flags, args.server_flags[1:]) if k == "--round-pool"), Limits().round_pool)
            ready, fill_s = wait_for_pool(db, want, args.pool_timeout)
            print(f"round pool: {ready} ready after {fill_s:.0f} s; {args.players} players for {args.seconds:.0f} s", flush=True)
            load_before, since = os.getloadavg()[0], time.time()
            players = players_phase(port, args.players, args.seconds)
            players["pool_after"] = pool_after(db, since)
            print(f"rounds {players['rounds_per_s']}/s, new round {players['round_ms']}; {args.generations} generations", flush=True)
            flood = generations_phase(port, args.generations, args.generation_limit)
            checks = integrity(db, *players.pop("_acknowledged"))
        finally:
            proc.terminate()
            proc.wait(30)
    header = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
              "model": shown(args.model), "command": "python -m bench.web_load " + " ".join(sys.argv[1:]), "server_flags": args.server_flags,
              "rate": args.rate, "pool_ready": ready, "pool_fill_s": round(fill_s, 1),
              "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}}
    report = {"header": header, "players": players, "generations": flood, "integrity": checks, "verdicts": verdicts(players, flood, checks)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "web_load.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "WEB_LOAD.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {out / 'WEB_LOAD.md'} and {out / 'web_load.json'}")


if __name__ == "__main__":
    main()
