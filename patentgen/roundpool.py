"""Rounds made ahead of time: a background thread keeps a pool of prepared rounds in the results
database full, so dealing a round on a request is one database transaction, not two samples.

A prepared round is dealt as a new round with its own id and the options in a fresh random order,
the least-dealt first. The thread keeps ``size`` of them *fresh* (dealt fewer than ``reuse``
times): each new one retires a round dealt ``reuse`` times. Under a load the thread cannot keep
up with, rounds are dealt more than ``reuse`` times rather than made on the request; only an
empty pool (just started, or ``--round-pool 0``) makes a round on the request. The pool is keyed by the model and the game's rules (a server started with other ones
deals none of it) and lives in the database, so a restart starts full, and two server processes
on one file share it. The thread gives way while generation requests wait (``busy``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import asdict
from typing import Callable

import numpy as np

from .game import Game, Round
from .results import Store

log = logging.getLogger("patentgen.web")


def dealer_key(model: str, play: Game) -> str:
    """What prepared rounds are interchangeable under: the model and the rules."""
    rules = json.dumps(asdict(play.rules), sort_keys=True)
    return f"{model} {hashlib.sha256(rules.encode()).hexdigest()[:12]}"


class RoundPool:
    def __init__(self, play: Game, store: Store, model: str, size: int, reuse: int,
                 rng: Callable[[], np.random.Generator], busy: Callable[[], bool] = lambda: False):
        self.play, self.store, self.model = play, store, model
        self.size, self.reuse = size, reuse
        self.dealer = dealer_key(model, play)
        self._rng, self._busy = rng, busy
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deal(self) -> Round | None:
        """A new stored round from the pool; None when it is empty."""
        rng = self._rng()
        rnd = self.store.deal(self.dealer, self.model, lambda n: [int(i) for i in rng.permutation(n)])
        self._wake.set()
        return rnd

    def ready(self) -> int:
        """Fresh prepared rounds in the pool."""
        return self.store.fresh(self.dealer, self.reuse)

    def fill_once(self) -> bool:
        """Make one prepared round if fewer than ``size`` are fresh; whether it made one."""
        if self.ready() >= self.size:
            return False
        self.store.add_prepared(self.play.new_round(self._rng()), self.dealer, self.size, self.reuse)
        return True

    def start(self) -> None:
        if self.size > 0 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="patentgen-round-pool", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._busy():
                    self._stop.wait(0.05)
                elif not self.fill_once():
                    self._wake.wait(1.0)
                    self._wake.clear()
            except Exception:  # e.g. the database briefly unwritable: logged, tried again
                log.exception("could not refill the round pool")
                self._stop.wait(5.0)
