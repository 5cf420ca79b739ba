"""Game results in SQLite: every round dealt, every guess, who was shown what, and the statistics.

Owns the database file (standard-library ``sqlite3``, WAL mode with synchronous=NORMAL, one
connection per thread, short transactions, so threads and processes can share it). The texts of a
round are stored once, as a *content* (the seed and its three texts); a dealt round is a content
shown to one player with its own id and its own order of the texts. Contents made ahead of time
form the pool the web app deals from (``add_content(pooled=True)``, ``deal``): the least-dealt
first, never one whose abstract the player was already dealt (``seen``), each at most once per
player; one dealt ``reuse`` times is retired when a fresh one arrives. A guess is stored at most
once per round (the round id is the guesses' primary key), so concurrent or repeated guesses can
neither be lost nor counted twice; the same guess sent again gets the same reveal. A guess from a
player or address that was already shown the answer of that abstract is kept but flagged
(``informed``), and the statistics count only the first guess of a player on a content, unflagged,
with 95% intervals that allow for players and rounds counted more than once (``interval``).

Start-up checks the file (``PRAGMA quick_check``) and refuses a damaged or older one with one
line; a failed start leaves no file behind that it created. A storage failure while running (a
read-only file, a full disk) is a ``StorageError`` (logged once until storage works again), and
the connection that met it is dropped, so the next request starts afresh.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import math
import secrets
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .config import default_results_path
from .errors import UserError
from .game import N_OPTIONS, Option, Reveal, Round

log = logging.getLogger("patentgen.results")

SCHEMA_VERSION = 3  # 3: contents dealt to players, who was shown what, settings
SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (   -- what dealt a content: the model and the game's rules
    dealer TEXT PRIMARY KEY,
    description TEXT NOT NULL           -- JSON: model, sampler, diversity band, words shown
);
CREATE TABLE IF NOT EXISTS contents (   -- a seed and its three texts, made once, dealt to players
    id TEXT PRIMARY KEY,
    dealer TEXT NOT NULL REFERENCES settings(dealer),
    created REAL NOT NULL,
    abstract TEXT NOT NULL,             -- the abstract's key: contents with one key show the same human text
    doc_id INTEGER NOT NULL,            -- abstract's index in the corpus file
    seed TEXT NOT NULL,
    n_words INTEGER NOT NULL,
    dealt INTEGER NOT NULL DEFAULT 0,
    pooled INTEGER NOT NULL             -- 1 while the pool deals it
);
CREATE INDEX IF NOT EXISTS contents_pool ON contents (dealer, pooled, dealt);
CREATE TABLE IF NOT EXISTS texts (
    content TEXT NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    k INTEGER NOT NULL CHECK (k BETWEEN 0 AND 2),
    source TEXT NOT NULL CHECK (source IN ('human', 'model')),
    diversity REAL,                     -- NULL for the human text
    text TEXT NOT NULL,
    PRIMARY KEY (content, k)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rounds (     -- a content dealt to a player
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    content TEXT NOT NULL REFERENCES contents(id),
    player TEXT NOT NULL,               -- opaque id of the player (Store.opaque)
    arrangement TEXT NOT NULL           -- the texts' k at options 1, 2, 3, e.g. '201'
);
CREATE INDEX IF NOT EXISTS rounds_by_created ON rounds (created);
CREATE INDEX IF NOT EXISTS rounds_by_content ON rounds (content);
CREATE TABLE IF NOT EXISTS guesses (
    round_id TEXT PRIMARY KEY REFERENCES rounds(id),
    created REAL NOT NULL,
    choice INTEGER NOT NULL CHECK (choice BETWEEN 1 AND 3),
    correct INTEGER NOT NULL,
    player TEXT NOT NULL,               -- who guessed
    address TEXT NOT NULL,              -- opaque id of the address the guess came from
    informed INTEGER NOT NULL           -- 1: the player or address had been shown this abstract's answer before
);
CREATE TABLE IF NOT EXISTS seen (player TEXT NOT NULL, abstract TEXT NOT NULL, PRIMARY KEY (player, abstract)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revealed (who TEXT NOT NULL, abstract TEXT NOT NULL, PRIMARY KEY (who, abstract)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
CHANCE = 1 / N_OPTIONS
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


class RoundNotFound(UserError):
    pass


class AlreadyAnswered(UserError):
    pass


class StorageError(UserError):
    """The results database cannot be read or written right now (read-only, full, damaged)."""


default_path = default_results_path  # outside the repository, in the user's data folder


# ----- statistics ---------------------------------------------------------------------------------
def interval(found: int, n: int, clusterings: list[list[tuple[int, int]]]) -> tuple[float, float]:
    """A 95% interval for the rate ``found / n`` when guesses come in clusters (``(found, n)`` of
    each player, of each round: one player's guesses, or one round's, are not independent): the
    Wilson score interval at the effective sample size ``n / deff``, where the design effect
    ``deff`` is the largest, over the clusterings, of the clustered variance of the rate (the
    spread of each cluster's found count around its expected one) over its binomial variance,
    at least 1. With one guess per player and per round it is the plain Wilson interval."""
    p = found / n
    deff = 1.0
    if 0 < p < 1:
        for clusters in clusterings:
            deff = max(deff, sum((y - p * m) ** 2 for y, m in clusters) / (n * p * (1 - p)))
    n_eff = n / deff
    z2 = Z95**2
    centre = (p + z2 / (2 * n_eff)) / (1 + z2 / n_eff)
    half = Z95 * math.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff**2)) / (1 + z2 / n_eff)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rates:
    """Counted guesses of one setting (or all): how often the human text was found and how often
    a model text fooled the player, each with its 95% interval; chance is 1/3 for both."""

    setting: dict | None  # None: every setting together
    guesses: int
    found: int
    rounds: int  # distinct contents guessed
    players: int
    found_interval: tuple[float, float]

    @property
    def found_rate(self) -> float:
        return self.found / self.guesses

    @property
    def fool_rate(self) -> float:
        """A model text picked as the human one, per model text shown (two a round)."""
        return (self.guesses - self.found) / (2 * self.guesses)

    @property
    def fool_interval(self) -> tuple[float, float]:
        low, high = self.found_interval
        return (1 - high) / 2, (1 - low) / 2

    def to_json(self) -> dict:
        return {"setting": self.setting, "guesses": self.guesses, "rounds": self.rounds, "players": self.players,
                "human_found": {"count": self.found, "rate": self.found_rate, "ci95": list(self.found_interval)},
                "fool_rate": {"count": self.guesses - self.found, "shown": 2 * self.guesses, "rate": self.fool_rate,
                              "ci95": list(self.fool_interval)}}

    def line(self) -> str:
        low, high = self.found_interval
        flow, fhigh = self.fool_interval
        return (f"players found the human text {self.found} of {self.guesses} times, {self.found_rate:.1%} (95% CI {low:.1%}-{high:.1%}); "
                f"a model text fooled them {self.fool_rate:.1%} of the times shown (95% CI {flow:.1%}-{fhigh:.1%}); chance is 33.3% for both; "
                f"{_plural(self.rounds, 'distinct round')}, {_plural(self.players, 'player')}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _rates(setting: dict | None, by_player: dict, by_content: dict) -> Rates:
    guesses = sum(m for _, m in by_player.values())
    found = sum(y for y, _ in by_player.values())
    return Rates(setting, guesses, found, len(by_content), len(by_player),
                 interval(found, guesses, [list(by_player.values()), list(by_content.values())]))


@dataclass(frozen=True)
class Stats:
    dealt: int  # rounds dealt
    guesses: int  # every stored guess
    counted: int  # the first guess of a player on a content, from one not shown its answer before
    informed: int  # kept but flagged: the player or its address had been shown the answer
    repeats: int  # a player's later guesses on a content it had guessed
    overall: Rates | None  # None before any counted guess
    settings: list[Rates]

    def to_json(self) -> dict:
        return {"dealt": self.dealt, "guesses": self.guesses, "counted": self.counted, "informed": self.informed,
                "repeats": self.repeats, "players": self.overall.players if self.overall else 0, "chance": CHANCE,
                "overall": self.overall.to_json() if self.overall else None, "settings": [s.to_json() for s in self.settings]}

    def lines(self) -> list[str]:
        out = [f"rounds dealt {self.dealt}, played {self.guesses}; counted {self.counted} (the first guess of a player on a round; "
               f"{self.informed} more kept but flagged, from a player or address already shown that abstract's answer, "
               f"and {self.repeats} repeated guesses, are not counted)"]
        if self.overall is None:
            return out + ["no counted guesses yet"]
        out.append(f"overall: {self.overall.line()}")
        for n, rates in enumerate(self.settings, 1):
            s = rates.setting
            out.append(f"setting {n}: model {s['model']}, sampler {json.dumps(s['sampler'], sort_keys=True)}, diversity "
                       f"{s['band'][0]:g}-{s['band'][1]:g}, seed {s['seed_words']} words, continuations {s['words'][0]}-{s['words'][1]} words:")
            out.append(f"  {rates.line()}")
        return out


# ----- the store ------------------------------------------------------------------------------------
def _storage(method):
    """Turn a failure of the database file while running into a StorageError (logged once until
    storage works again), dropping this thread's connection so the next call opens a fresh one."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as err:
            self._drop_connection()
            if not self._failing:
                self._failing = True
                log.error("results database %s: %s (reported once until it works again)", self.path, err)
            raise StorageError(f"the results database cannot be used right now ({err}); try again later") from None
        if self._failing:
            self._failing = False
            log.warning("results database %s works again", self.path)
        return result

    return call


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._local = threading.local()  # one connection per thread
        self._connections: list[sqlite3.Connection] = []
        self._failing = False
        created = [p for p in self._files() if not p.exists()]
        try:
            self._open()
        except BaseException:
            self.close()
            for file in created:  # a failed start leaves nothing behind that it made
                with contextlib.suppress(OSError):
                    file.unlink()
            raise

    def _files(self) -> list[Path]:
        return [self.path, self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")]

    def _refuse(self, why: str) -> UserError:
        return UserError(f"cannot use {self.path} as the results database ({why}); pass another --db PATH")

    def _open(self) -> None:
        folder = self.path.parent
        for above in (folder, *folder.parents):
            if above.exists() and not above.is_dir():
                raise self._refuse(f"{above} is a file, not a folder")
        if self.path.is_dir():
            raise self._refuse("it is a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise self._refuse(f"cannot create {folder}: {err.strerror}") from None
        try:  # SQLite would say only "unable to open database file"; the system says why
            with open(self.path, "r+b" if self.path.exists() else "xb"):
                pass
        except OSError as err:
            where = self.path if self.path.exists() else f"a file in {folder}"
            raise self._refuse(f"cannot write {where}: {err.strerror}") from None
        try:
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if version > SCHEMA_VERSION:
                    raise self._refuse(f"written by a newer patentgen, schema {version}; upgrade patentgen")
                if version < SCHEMA_VERSION and tables:
                    raise self._refuse(f"it holds results of an older patentgen, schema {version or 1}; move it aside to keep them")
                check = [row[0] for row in db.execute("PRAGMA quick_check")]
                if check != ["ok"]:
                    raise self._refuse(f"it is damaged: {check[0]}")
                db.executescript(SCHEMA)
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT OR IGNORE INTO meta VALUES ('client_key', ?)", (secrets.token_hex(16),))
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
                self._key = bytes.fromhex(db.execute("SELECT value FROM meta WHERE key = 'client_key'").fetchone()[0])
        except sqlite3.DatabaseError as err:
            raise self._refuse(str(err)) from None
        except OSError as err:
            raise self._refuse(err.strerror or str(err)) from None

    def close(self) -> None:
        """Close every connection this store opened (all threads)."""
        for db in self._connections:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        self._connections.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def _connect(self):
        """This thread's connection, kept open: opening and closing the only connection to a
        WAL file checkpoints it on every close, an fsync each time."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._connections.append(db)
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
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise

    def _drop_connection(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            with contextlib.suppress(sqlite3.Error):
                db.close()
            with contextlib.suppress(ValueError):
                self._connections.remove(db)

    @contextlib.contextmanager
    def _writing(self):
        """A connection for a write, one writer of this process at a time, in one transaction."""
        with self._write_lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")

    def opaque(self, name: str) -> str:
        """An opaque id of a player or an address (``name``), keyed by this file's random key:
        the name itself is never stored."""
        return hmac.new(self._key, name.encode(), hashlib.sha256).hexdigest()[:16]

    @_storage
    def add_setting(self, dealer: str, setting: dict) -> None:
        with self._writing() as db:
            db.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)", (dealer, json.dumps(setting, sort_keys=True)))

    @_storage
    def add_content(self, rnd: Round, dealer: str, pooled: bool = True, size: int | None = None, reuse: int = 1) -> None:
        """Keep ``rnd``'s seed and texts under its id (its own order is not the one dealt), in the
        pool if ``pooled``; then retire the most-dealt contents dealt ``reuse`` times or more
        while more than ``size`` are pooled."""
        with self._writing() as db:
            db.execute("INSERT INTO contents VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                       (rnd.id, dealer, time.time(), rnd.abstract, rnd.doc_id, rnd.seed, rnd.n_words, int(pooled)))
            db.executemany("INSERT INTO texts VALUES (?, ?, ?, ?, ?)",
                           [(rnd.id, k, o.source, o.diversity, o.text) for k, o in enumerate(rnd.options)])
            excess = 0 if size is None else db.execute("SELECT COUNT(*) FROM contents WHERE dealer = ? AND pooled = 1",
                                                       (dealer,)).fetchone()[0] - size
            if pooled and excess > 0:
                db.execute("UPDATE contents SET pooled = 0 WHERE id IN (SELECT id FROM contents WHERE dealer = ? AND pooled = 1 "
                           "AND dealt >= ? ORDER BY dealt DESC LIMIT ?)", (dealer, reuse, excess))

    @_storage
    def fresh(self, dealer: str, reuse: int) -> dict[str, int]:
        """Pooled contents of ``dealer`` dealt fewer than ``reuse`` times, counted by abstract."""
        with self._connect() as db:
            return dict(db.execute("SELECT abstract, COUNT(*) FROM contents WHERE dealer = ? AND pooled = 1 AND dealt < ? GROUP BY abstract",
                                   (dealer, reuse)).fetchall())

    @_storage
    def seen(self, player: str) -> set[str]:
        """The abstracts ``player`` was dealt."""
        with self._connect() as db:
            return {row[0] for row in db.execute("SELECT abstract FROM seen WHERE player = ?", (player,))}

    @_storage
    def deal(self, dealer: str, player: str, order, content: str | None = None) -> tuple[Round, set[str]] | None:
        """A new round for ``player`` (new id, texts in the order ``order(3)`` gives, a
        permutation), stored, and the abstracts the player has now been dealt: of ``content``, or
        of the least-dealt pooled content of ``dealer`` whose abstract the player was not dealt
        yet. None if there is none (or ``content``'s abstract was dealt to the player meanwhile)."""
        with self._writing() as db:
            if content is None:
                row = db.execute("SELECT id, abstract, doc_id, seed, n_words FROM contents WHERE dealer = ? AND pooled = 1 AND abstract NOT IN "
                                 "(SELECT abstract FROM seen WHERE player = ?) ORDER BY dealt, random() LIMIT 1", (dealer, player)).fetchone()
            else:
                row = db.execute("SELECT id, abstract, doc_id, seed, n_words FROM contents WHERE id = ? AND abstract NOT IN "
                                 "(SELECT abstract FROM seen WHERE player = ?)", (content, player)).fetchone()
            if row is None:
                return None
            content, abstract, doc_id, seed, n_words = row
            db.execute("UPDATE contents SET dealt = dealt + 1 WHERE id = ?", (content,))
            db.execute("INSERT INTO seen VALUES (?, ?)", (player, abstract))
            texts = [Option(*t) for t in db.execute("SELECT text, source, diversity FROM texts WHERE content = ? ORDER BY k", (content,))]
            arrangement = [int(i) for i in order(len(texts))]
            rnd = Round(uuid.uuid4().hex, doc_id, seed, tuple(texts[i] for i in arrangement), n_words, abstract)
            db.execute("INSERT INTO rounds VALUES (?, ?, ?, ?, ?)", (rnd.id, time.time(), content, player, "".join(map(str, arrangement))))
            seen = {r[0] for r in db.execute("SELECT abstract FROM seen WHERE player = ?", (player,))}
        return rnd, seen

    def add_round(self, rnd: Round, dealer: str, player: str) -> Round:
        """``rnd`` (made for ``player``) stored as a content out of the pool and dealt to the
        player as it is; StorageError and the like as ``deal``."""
        self.add_content(rnd, dealer, pooled=False)
        dealt = self.deal(dealer, player, range, content=rnd.id)  # the texts in the order they were made
        if dealt is None:
            raise UserError(f"abstract {rnd.abstract} was already dealt to this player; start a new round")
        return dealt[0]

    @_storage
    def get_round(self, round_id: str) -> Round:
        with self._connect() as db:
            row = db.execute("SELECT r.content, r.arrangement, c.doc_id, c.seed, c.n_words, c.abstract FROM rounds r "
                             "JOIN contents c ON c.id = r.content WHERE r.id = ?", (round_id,)).fetchone()
            if row is None:
                raise RoundNotFound(f"no round {round_id!r}; start a new round")
            texts = [Option(*t) for t in db.execute("SELECT text, source, diversity FROM texts WHERE content = ? ORDER BY k", (row[0],))]
        return Round(round_id, row[2], row[3], tuple(texts[int(k)] for k in row[1]), row[4], row[5])

    @_storage
    def guess(self, round_id: str, choice: int, player: str, address: str) -> Reveal:
        """Store the guess (once per round) and return the reveal. The same choice sent again
        (a retry whose answer was lost) gets the same reveal; another choice is AlreadyAnswered.
        The guess is flagged ``informed`` if ``player`` or ``address`` was shown this abstract's
        answer before; it counts if it is not, and is the player's first on this content."""
        rnd = self.get_round(round_id)
        reveal = rnd.reveal(choice)
        with self._writing() as db:
            informed = db.execute("SELECT EXISTS (SELECT 1 FROM revealed WHERE who IN (?, ?) AND abstract = ?)",
                                  (player, address, rnd.abstract)).fetchone()[0]
            stored = db.execute("INSERT INTO guesses VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (round_id) DO NOTHING RETURNING choice",
                                (round_id, time.time(), choice, int(reveal.correct), player, address, informed)).fetchall()
            if stored:
                db.executemany("INSERT OR IGNORE INTO revealed VALUES (?, ?)", [(player, rnd.abstract), (address, rnd.abstract)])
            earlier = db.execute("SELECT g.choice, g.informed, g.player, (SELECT COUNT(*) FROM guesses h JOIN rounds s ON s.id = h.round_id "
                                 "WHERE s.content = r.content AND h.player = g.player AND (h.created < g.created OR "
                                 "(h.created = g.created AND h.round_id < g.round_id))) FROM guesses g JOIN rounds r ON r.id = g.round_id "
                                 "WHERE g.round_id = ?", (round_id,)).fetchone()
        if earlier[0] != choice:
            raise AlreadyAnswered(f"round {round_id} was already answered with option {earlier[0]}; start a new round")
        return Reveal(reveal.round_id, reveal.choice, reveal.correct, reveal.human, reveal.options, counted=not earlier[1] and earlier[3] == 0)

    @_storage
    def played(self, player: str) -> tuple[int, int]:
        """``player``'s guesses and how many found the human text."""
        with self._connect() as db:
            return tuple(db.execute("SELECT COUNT(*), COALESCE(SUM(correct), 0) FROM guesses WHERE player = ?", (player,)).fetchone())

    @_storage
    def stats(self) -> Stats:
        """Every setting's counted guesses, and all together, with their intervals."""
        with self._connect() as db:
            dealt = db.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]
            rows = db.execute(
                "SELECT c.dealer, r.content, g.player, g.correct, g.informed, ROW_NUMBER() OVER "
                "(PARTITION BY g.player, r.content ORDER BY g.created, g.round_id) FROM guesses g "
                "JOIN rounds r ON r.id = g.round_id JOIN contents c ON c.id = r.content").fetchall()
            settings = {d: json.loads(s) for d, s in db.execute("SELECT dealer, description FROM settings")}
        repeats = sum(k > 1 for *_, k in rows)
        informed = sum(flag and k == 1 for *_, flag, k in rows)
        counted = [(dealer, content, who, correct) for dealer, content, who, correct, flag, k in rows if k == 1 and not flag]
        groups: dict = defaultdict(lambda: (defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])))
        for dealer, content, who, correct in counted:
            for key in (dealer, None):
                by_player, by_content = groups[key]
                for cell in (by_player[who], by_content[content]):
                    cell[0] += correct
                    cell[1] += 1
        per = {key: _rates(settings.get(key) if key else None, {k: tuple(v) for k, v in bp.items()}, {k: tuple(v) for k, v in bc.items()})
               for key, (bp, bc) in groups.items()}
        overall = per.pop(None, None)
        ordered = sorted(per.values(), key=lambda r: (str(r.setting.get("model")), r.setting.get("band"), json.dumps(r.setting, sort_keys=True))
                         if r.setting else ("",))
        return Stats(dealt, len(rows), len(counted), informed, repeats, overall, ordered)

    @_storage
    def prune(self, keep_days: float) -> int:
        """Forget rounds dealt more than ``keep_days`` ago and never guessed (what players were
        shown stays in ``seen``), and contents out of the pool that no round shows any more; how
        many rounds went."""
        cutoff = time.time() - keep_days * 86400
        with self._writing() as db:
            gone = db.execute("DELETE FROM rounds WHERE created < ? AND id NOT IN (SELECT round_id FROM guesses)", (cutoff,)).rowcount
            db.execute("DELETE FROM contents WHERE pooled = 0 AND created < ? AND id NOT IN (SELECT content FROM rounds)", (cutoff,))
        return gone

