"""Game results in SQLite: every round dealt, every guess, and the stats read from them.

Owns the database file (standard-library ``sqlite3``, WAL mode with synchronous=NORMAL, one
connection per thread, short transactions, so threads and processes can share it). The schema is created idempotently; a guess is
stored at most once per round (the round id is the guesses' primary key), so concurrent or
repeated guesses can neither be lost nor counted twice; the same guess sent again gets the same
reveal. Also holds the pool of *prepared* rounds the web app deals from (``add_prepared``,
``deal``): the least-dealt first, every time as a new round with its own id and its own order of
the options, in one transaction; one dealt ``reuse`` times is retired when a fresh one arrives.
Writes of one process take turns on a lock (SQLite's own wait for a busy file backs off in
sleeps of up to 100 ms, which under 50 concurrent players makes the slow tail).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .config import default_results_path
from .errors import UserError
from .game import MODEL, Option, Reveal, Round

SCHEMA_VERSION = 2  # 2: prepared rounds, the guessing client, a per-file key
SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    model TEXT NOT NULL,          -- run folder that dealt the round
    doc_id INTEGER NOT NULL,      -- abstract's index in the corpus file
    seed TEXT NOT NULL,
    n_words INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS options (
    round_id TEXT NOT NULL REFERENCES rounds(id),
    position INTEGER NOT NULL CHECK (position BETWEEN 1 AND 3),
    source TEXT NOT NULL CHECK (source IN ('human', 'model')),
    diversity REAL,               -- NULL for the human text
    text TEXT NOT NULL,
    PRIMARY KEY (round_id, position)
);
CREATE TABLE IF NOT EXISTS guesses (
    round_id TEXT PRIMARY KEY REFERENCES rounds(id),
    created REAL NOT NULL,
    choice INTEGER NOT NULL CHECK (choice BETWEEN 1 AND 3),
    correct INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS prepared (  -- rounds ready to deal, made in the background
    id TEXT PRIMARY KEY,
    dealer TEXT NOT NULL,         -- the model and rules that made it: only their game deals it
    created REAL NOT NULL,
    doc_id INTEGER NOT NULL,
    seed TEXT NOT NULL,
    n_words INTEGER NOT NULL,
    options TEXT NOT NULL,        -- JSON [[text, source, diversity], ...]
    dealt INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS prepared_by_dealer ON prepared (dealer, dealt);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Added in schema 2 to a table of schema 1: an opaque key of the client that guessed (NULL before).
GUESS_CLIENT = "ALTER TABLE guesses ADD COLUMN client TEXT"

BANDS = ((0.5, 0.75), (0.75, 1.0), (1.0, 1.25))  # fool rate is reported per diversity band


class RoundNotFound(UserError):
    pass


class AlreadyAnswered(UserError):
    pass


default_path = default_results_path  # outside the repository, in the user's data folder


@dataclass(frozen=True)
class Stats:
    rounds: int  # rounds dealt
    played: int  # rounds with a guess
    human_picked: int  # guesses that found the human text
    bands: list[dict]  # per diversity band: model options shown in played rounds, picked, fool rate
    clients: int = 0  # distinct clients among the guesses (guesses stored before schema 2 not counted)

    @property
    def human_rate(self) -> float | None:
        return self.human_picked / self.played if self.played else None

    def to_json(self) -> dict:
        return {"rounds": self.rounds, "played": self.played, "clients": self.clients, "human_picked": self.human_picked,
                "human_rate": self.human_rate, "fool_rate_by_diversity": self.bands}

    def lines(self) -> list[str]:
        rate = f"{self.human_rate:.1%}" if self.played else "n/a"
        out = [f"rounds dealt {self.rounds}, played {self.played} by {self.clients} distinct clients; "
               f"players found the human text {self.human_picked} times ({rate}; chance is 33.3%)"]
        out.append("model fool rate (a model option picked as human; chance is 33.3%):")
        for b in self.bands:
            rate = f"{b['fool_rate']:.1%}" if b["fool_rate"] is not None else "n/a"
            out.append(f"  diversity {b['band']}: {b['picked']} of {b['shown']} ({rate})")
        return out


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._local = threading.local()  # one connection per thread
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise UserError(f"{self.path} was written by a newer patentgen (schema {version}); upgrade or pass another --db PATH")
                db.executescript(SCHEMA)
                db.execute("BEGIN IMMEDIATE")  # one process upgrades a file at a time
                if "client" not in {row[1] for row in db.execute("PRAGMA table_info(guesses)")}:
                    db.execute(GUESS_CLIENT)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('client_key', ?)", (secrets.token_hex(16),))
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            raise UserError(f"cannot use {self.path} as the results database ({err}); pass another --db PATH") from None
        except OSError as err:
            raise UserError(f"cannot create {self.path.parent} ({err.strerror}); pass another --db PATH") from None

    @contextlib.contextmanager
    def _connect(self):
        """This thread's connection, kept open: opening and closing the only connection to a
        WAL file checkpoints it on every close, an fsync each time."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA foreign_keys=ON")
            # WAL with NORMAL: a commit survives the server process dying (kill -9), not a power
            # cut; a commit costs microseconds instead of an fsync (3.6 ms here, one at a time).
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _writing(self):
        """A connection for a write, one writer of this process at a time."""
        with self._write_lock, self._connect() as db:
            yield db

    def client_key(self) -> bytes:
        """This file's random key, for turning client addresses into opaque ids (``web``)."""
        with self._connect() as db:
            return bytes.fromhex(db.execute("SELECT value FROM meta WHERE key = 'client_key'").fetchone()[0])

    def add_round(self, rnd: Round, model: str) -> None:
        with self._writing() as db:
            db.execute("BEGIN IMMEDIATE")
            _insert_round(db, rnd, model)
            db.execute("COMMIT")

    def add_prepared(self, rnd: Round, dealer: str, size: int, reuse: int) -> None:
        """Keep ``rnd`` ready for ``deal`` (its id and option order are not the ones dealt), and
        retire the most-dealt rounds dealt ``reuse`` times or more while more than ``size`` are kept."""
        options = json.dumps([[o.text, o.source, o.diversity] for o in rnd.options])
        with self._writing() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO prepared VALUES (?, ?, ?, ?, ?, ?, ?, 0)", (rnd.id, dealer, time.time(), rnd.doc_id, rnd.seed, rnd.n_words, options))
            excess = db.execute("SELECT COUNT(*) FROM prepared WHERE dealer = ?", (dealer,)).fetchone()[0] - size
            if excess > 0:
                db.execute("DELETE FROM prepared WHERE id IN (SELECT id FROM prepared WHERE dealer = ? AND dealt >= ? ORDER BY dealt DESC LIMIT ?)",
                           (dealer, reuse, excess))
            db.execute("COMMIT")

    def fresh(self, dealer: str, reuse: int) -> int:
        """Prepared rounds of ``dealer`` dealt fewer than ``reuse`` times."""
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM prepared WHERE dealer = ? AND dealt < ?", (dealer, reuse)).fetchone()[0]

    def deal(self, dealer: str, model: str, order) -> Round | None:
        """A new round (new id, options in the order ``order(3)`` gives, a permutation) made from
        the least-dealt prepared round of ``dealer``, stored; None if ``dealer`` has none."""
        with self._writing() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT id, doc_id, seed, n_words, options FROM prepared WHERE dealer = ? ORDER BY dealt, random() LIMIT 1",
                             (dealer,)).fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            db.execute("UPDATE prepared SET dealt = dealt + 1 WHERE id = ?", (row[0],))
            options = [Option(*o) for o in json.loads(row[4])]
            rnd = Round(uuid.uuid4().hex, row[1], row[2], tuple(options[i] for i in order(len(options))), row[3])
            _insert_round(db, rnd, model)
            db.execute("COMMIT")
        return rnd

    def get_round(self, round_id: str) -> Round:
        with self._connect() as db:
            row = db.execute("SELECT doc_id, seed, n_words FROM rounds WHERE id = ?", (round_id,)).fetchone()
            opts = db.execute("SELECT text, source, diversity FROM options WHERE round_id = ? ORDER BY position", (round_id,)).fetchall()
        if row is None:
            raise RoundNotFound(f"no round {round_id!r}; start a new round")
        return Round(round_id, row[0], row[1], tuple(Option(*o) for o in opts), row[2])

    def guess(self, round_id: str, choice: int, client: str | None = None) -> Reveal:
        """Store the guess (once per round) and return the reveal. The same choice sent again
        (a retry whose answer was lost) gets the same reveal; another choice is AlreadyAnswered."""
        reveal = self.get_round(round_id).reveal(choice)
        with self._writing() as db:
            stored = db.execute(
                "INSERT INTO guesses (round_id, created, choice, correct, client) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (round_id) DO NOTHING RETURNING choice", (round_id, time.time(), choice, int(reveal.correct), client),
            ).fetchall()
            earlier = None if stored else db.execute("SELECT choice FROM guesses WHERE round_id = ?", (round_id,)).fetchone()[0]
        if earlier is not None and earlier != choice:
            raise AlreadyAnswered(f"round {round_id} was already answered with option {earlier}; start a new round")
        return reveal

    def stats(self, model: str | None = None) -> Stats:
        where, args = ("WHERE r.model = ?", (model,)) if model else ("", ())
        with self._connect() as db:
            rounds = db.execute(f"SELECT COUNT(*) FROM rounds r {where}", args).fetchone()[0]
            played, found, clients = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(g.correct), 0), COUNT(DISTINCT g.client) FROM guesses g JOIN rounds r ON r.id = g.round_id {where}", args
            ).fetchone()
            shown = db.execute(
                "SELECT o.diversity, g.choice = o.position FROM options o JOIN guesses g ON g.round_id = o.round_id "
                f"JOIN rounds r ON r.id = o.round_id {where} {'AND' if where else 'WHERE'} o.source = ?",
                (*args, MODEL),
            ).fetchall()
        return Stats(rounds, played, found, _bands(shown), clients)


def _insert_round(db: sqlite3.Connection, rnd: Round, model: str) -> None:
    db.execute("INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?)", (rnd.id, time.time(), model, rnd.doc_id, rnd.seed, rnd.n_words))
    db.executemany("INSERT INTO options VALUES (?, ?, ?, ?, ?)", [(rnd.id, i, o.source, o.diversity, o.text) for i, o in enumerate(rnd.options, 1)])


def _bands(shown: list[tuple[float, int]]) -> list[dict]:
    out = []
    for k, (lo, hi) in enumerate(BANDS):
        last = k == len(BANDS) - 1
        picks = [picked for d, picked in shown if lo <= d < hi or (last and d == hi)]
        out.append({"band": f"{lo:.2f}-{hi:.2f}", "shown": len(picks), "picked": sum(picks), "fool_rate": sum(picks) / len(picks) if picks else None})
    return out

