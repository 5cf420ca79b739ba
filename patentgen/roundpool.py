"""Rounds made ahead of time: a background thread keeps a pool of prepared contents (a seed and
its three texts) in the results database full, so dealing a round on a request is one database
transaction, not two samples.

A content is dealt to a player as a new round with its own id and the texts in a fresh random
order, the least-dealt first, and never to a player who was already dealt its abstract
(``results.Store.deal``): reuse is only across different players. The thread keeps ``size``
contents *fresh* (dealt fewer than ``reuse`` times), each new one of the abstract with the fewest
fresh contents, so the pool covers as many abstracts as it can; each new one retires a content
dealt ``reuse`` times. Under a load the thread cannot keep up with, contents are dealt more than
``reuse`` times (to different players) rather than made on the request; a round is made on the
request (``make``) only when the pool has none the player has not seen, and ``AllSeen`` says when
the player has seen every abstract. The pool is keyed by the model and the game's rules (a server
started with other ones deals none of it) and lives in the database, so a restart starts full,
and two server processes on one file share it. The thread gives way while generation requests
wait (``busy``), but not below half the pool, so generation cannot starve it. It also forgets
rounds nobody guessed after ``keep_days`` (``results.Store.prune``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np

from .game import Game, Round
from .results import StorageError, Store

log = logging.getLogger("patentgen.web")
PRUNE_EVERY_S = 3600


class RoundPool:
    def __init__(self, play: Game, store: Store, model: str, size: int, reuse: int,
                 rng: Callable[[], np.random.Generator], busy: Callable[[], bool] = lambda: False, keep_days: float | None = None):
        self.play, self.store, self.model = play, store, model
        self.size, self.reuse, self.keep_days = size, reuse, keep_days
        self.dealer = play.dealer(model)
        store.add_setting(self.dealer, play.rules.setting(model))
        self._rng, self._busy = rng, busy
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned = 0.0

    def _order(self) -> Callable[[int], np.ndarray]:
        rng = self._rng()
        return lambda n: rng.permutation(n)

    def left(self, seen: set[str]) -> int:
        """Abstracts of the game not in ``seen``."""
        return len(self.play.abstracts - seen)

    def deal(self, player: str) -> tuple[Round, int] | None:
        """A new stored round for ``player`` from the pool and how many abstracts the player has
        left after it; None when the pool holds none the player has not seen."""
        dealt = self.store.deal(self.dealer, player, self._order())
        self._wake.set()
        return None if dealt is None else (dealt[0], self.left(dealt[1]))

    def make(self, player: str) -> tuple[Round, int]:
        """A round made now for ``player``, of an abstract the player has not seen (``AllSeen`` if
        none is left), kept in the pool for others too; and how many abstracts are left after it."""
        while True:
            rnd = self.play.new_round(self._rng(), avoid=self.store.seen(player))
            self.store.add_content(rnd, self.dealer, pooled=self.size > 0, size=self.size, reuse=self.reuse)
            dealt = self.store.deal(self.dealer, player, self._order(), content=rnd.id)
            if dealt is not None:  # else the player was dealt that abstract meanwhile: another one
                return dealt[0], self.left(dealt[1])

    def ready(self) -> int:
        """Fresh prepared contents in the pool."""
        return sum(self.store.fresh(self.dealer, self.reuse).values())

    def fill_once(self) -> bool:
        """Make one content if fewer than ``size`` are fresh, of an abstract with the fewest fresh
        ones; whether it made one."""
        fresh = self.store.fresh(self.dealer, self.reuse)
        if sum(fresh.values()) >= self.size:
            return False
        least = min(fresh.get(a, 0) for a in self.play.abstracts)
        choices = sorted(a for a in self.play.abstracts if fresh.get(a, 0) == least)
        rng = self._rng()
        rnd = self.play.new_round(rng, abstract=choices[int(rng.integers(len(choices)))])
        self.store.add_content(rnd, self.dealer, pooled=True, size=self.size, reuse=self.reuse)
        return True

    def prune(self) -> None:
        """Forget unguessed rounds past ``keep_days`` (at most once an hour)."""
        if self.keep_days is not None and time.monotonic() - self._pruned >= PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            gone = self.store.prune(self.keep_days)
            if gone:
                log.info("forgot %d rounds dealt more than %g days ago and never guessed", gone, self.keep_days)

    def start(self) -> None:
        if self._thread is None:
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
                self.prune()
                if self.size <= 0:
                    self._stop.wait(60.0)
                elif self._busy() and self.ready() >= self.size // 2:
                    self._stop.wait(0.05)
                elif not self.fill_once():
                    self._wake.wait(1.0)
                    self._wake.clear()
            except StorageError:  # the database briefly unusable (the store logs it once): tried again
                self._stop.wait(5.0)
            except Exception:
                log.exception("could not refill the round pool")
                self._stop.wait(5.0)
