"""Game results in SQLite: every round dealt, every guess, and the stats read from them.

Owns the database file (standard-library ``sqlite3``, WAL mode, one short-lived connection per
call so threads and processes can share it). The schema is created idempotently; a guess is
stored at most once per round (the round id is the guesses' primary key), so concurrent or
repeated guesses can neither be lost nor counted twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .config import default_results_path
from .errors import UserError
from .game import MODEL, Option, Reveal, Round

SCHEMA_VERSION = 1
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
"""

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

    @property
    def human_rate(self) -> float | None:
        return self.human_picked / self.played if self.played else None

    def to_json(self) -> dict:
        return {"rounds": self.rounds, "played": self.played, "human_picked": self.human_picked, "human_rate": self.human_rate, "fool_rate_by_diversity": self.bands}

    def lines(self) -> list[str]:
        rate = f"{self.human_rate:.1%}" if self.played else "n/a"
        out = [f"rounds dealt {self.rounds}, played {self.played}; players found the human text {self.human_picked} times ({rate}; chance is 33.3%)"]
        out.append("model fool rate (a model option picked as human; chance is 33.3%):")
        for b in self.bands:
            rate = f"{b['fool_rate']:.1%}" if b["fool_rate"] is not None else "n/a"
            out.append(f"  diversity {b['band']}: {b['picked']} of {b['shown']} ({rate})")
        return out


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise UserError(f"{self.path} was written by a newer patentgen (schema {version}); upgrade or pass another --db PATH")
                db.executescript(SCHEMA)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as err:
            raise UserError(f"cannot use {self.path} as the results database ({err}); pass another --db PATH") from None
        except OSError as err:
            raise UserError(f"cannot create {self.path.parent} ({err.strerror}); pass another --db PATH") from None

    @contextlib.contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    def add_round(self, rnd: Round, model: str) -> None:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?)", (rnd.id, time.time(), model, rnd.doc_id, rnd.seed, rnd.n_words))
            db.executemany(
                "INSERT INTO options VALUES (?, ?, ?, ?, ?)",
                [(rnd.id, i, o.source, o.diversity, o.text) for i, o in enumerate(rnd.options, 1)],
            )
            db.execute("COMMIT")

    def get_round(self, round_id: str) -> Round:
        with self._connect() as db:
            row = db.execute("SELECT doc_id, seed, n_words FROM rounds WHERE id = ?", (round_id,)).fetchone()
            opts = db.execute("SELECT text, source, diversity FROM options WHERE round_id = ? ORDER BY position", (round_id,)).fetchall()
        if row is None:
            raise RoundNotFound(f"no round {round_id!r}; start a new round")
        return Round(round_id, row[0], row[1], tuple(Option(*o) for o in opts), row[2])

    def guess(self, round_id: str, choice: int) -> Reveal:
        """Store the guess (once per round) and return the reveal."""
        reveal = self.get_round(round_id).reveal(choice)
        try:
            with self._connect() as db:
                db.execute("INSERT INTO guesses VALUES (?, ?, ?, ?)", (round_id, time.time(), choice, int(reveal.correct)))
        except sqlite3.IntegrityError:
            raise AlreadyAnswered(f"round {round_id} was already answered; start a new round") from None
        return reveal

    def stats(self, model: str | None = None) -> Stats:
        where, args = ("WHERE r.model = ?", (model,)) if model else ("", ())
        with self._connect() as db:
            rounds = db.execute(f"SELECT COUNT(*) FROM rounds r {where}", args).fetchone()[0]
            played, found = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(g.correct), 0) FROM guesses g JOIN rounds r ON r.id = g.round_id {where}", args
            ).fetchone()
            shown = db.execute(
                "SELECT o.diversity, g.choice = o.position FROM options o JOIN guesses g ON g.round_id = o.round_id "
                f"JOIN rounds r ON r.id = o.round_id {where} {'AND' if where else 'WHERE'} o.source = ?",
                (*args, MODEL),
            ).fetchall()
        return Stats(rounds, played, found, _bands(shown))


def _bands(shown: list[tuple[float, int]]) -> list[dict]:
    out = []
    for k, (lo, hi) in enumerate(BANDS):
        last = k == len(BANDS) - 1
        picks = [picked for d, picked in shown if lo <= d < hi or (last and d == hi)]
        out.append({"band": f"{lo:.2f}-{hi:.2f}", "shown": len(picks), "picked": sum(picks), "fool_rate": sum(picks) / len(picks) if picks else None})
    return out

