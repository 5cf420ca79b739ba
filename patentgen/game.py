"""The human-vs-model guessing game: rounds built from held-out abstracts, and their reveal.

Owns the rules, with no I/O: a round shows the first ``seed_words`` words of a real abstract the
model never trained on (the run's test and validation sides, ``PLAYED``) and three continuations
of the same length in random order, the real one and two model samples, each drawn by the game's
sampler at a diversity (temperature) drawn from ``[low, high]``. No mechanical tell: the model
writes rare words too (its open vocabulary), and a human continuation stops before any word the
model could not write (one never seen in training and not in the seed); abstracts that leave
fewer than ``min_words`` are not dealt. Near-duplicate abstracts (``split.group_near_duplicates``)
and abstracts that open with the same seed count as one *abstract* (its key): a player is never
dealt one twice (``avoid``), and when a player has seen them all, ``AllSeen`` says so. The terminal
program (``game.py``) and the web app (``patentgen.web``) both play these rounds;
``patentgen.results`` keeps them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Callable, Collection

import numpy as np

from . import sampling, split
from .config import GAME_BAND, GAME_SAMPLER, GAME_SEED_WORDS
from .corpus import strip_controls
from .errors import UserError
from .tokenizer import detokenize, ends_sentence

N_OPTIONS = 3
HUMAN, MODEL = "human", "model"
# The held-out sides a game deals: the model never trained on either. Validation text chose the
# checkpoint (early stopping) and fitted a few scalars (the run's cache weights, which the game's
# sampler does not use, and the open vocabulary's copy rate); none of that can carry an
# abstract's words into a sample, so its abstracts are as unseen as the test ones.
PLAYED = ("test", "val")

# (seed tokens, n words, sampler, rng) -> n generated tokens
Sample = Callable[[list[str], int, sampling.Sampler, np.random.Generator], list[str]]
# (word, seed tokens) -> whether the model could write it there
Writable = Callable[[str, list[str]], bool]



@dataclass(frozen=True)
class Rules:
    seed_words: int = GAME_SEED_WORDS  # words shown as the seed
    min_words: int = 30  # shortest continuation
    max_words: int = 50  # longest continuation
    low: float = GAME_BAND[0]  # model diversity is drawn from [low, high]
    high: float = GAME_BAND[1]
    sampler: dict = field(default_factory=lambda: dict(GAME_SAMPLER))  # a sampler description, temperature aside

    def __post_init__(self):
        if not (0 < self.seed_words and 0 < self.min_words <= self.max_words and 0 < self.low <= self.high):
            raise UserError("game rules need seed_words >= 1, 1 <= min_words <= max_words and 0 < low <= high")
        sampling.check(self.sampler)

    def setting(self, model: str) -> dict:
        """What makes rounds comparable: the model, the sampler, the band, the words shown."""
        return {"model": model, "sampler": dict(self.sampler), "band": [self.low, self.high],
                "seed_words": self.seed_words, "words": [self.min_words, self.max_words]}

    def sampler_at(self, diversity: float) -> sampling.Sampler:
        return sampling.from_description({**self.sampler, "temperature": diversity})


@dataclass(frozen=True)
class Option:
    text: str
    source: str  # HUMAN or MODEL
    diversity: float | None  # None for the human text


@dataclass(frozen=True)
class Round:
    id: str
    doc_id: int  # index of the abstract in the corpus file
    seed: str
    options: tuple[Option, ...]
    n_words: int
    abstract: str = ""  # the abstract's key (``Game.abstract_of``): rounds with one key show the same human text

    @property
    def human(self) -> int:
        """The human option, numbered from 1 as players see it."""
        return next(i for i, o in enumerate(self.options, 1) if o.source == HUMAN)

    def public(self) -> dict:
        """What a player may see before guessing: no source, no diversity, no order hint."""
        return {"id": self.id, "seed": self.seed, "options": [o.text for o in self.options], "n_words": self.n_words}

    def reveal(self, choice: int) -> "Reveal":
        check_choice(choice)
        return Reveal(self.id, choice, choice == self.human, self.human, self.options)


@dataclass(frozen=True)
class Reveal:
    round_id: str
    choice: int
    correct: bool
    human: int
    options: tuple[Option, ...]
    counted: bool = True  # in the statistics: the guesser's first on this round, without having seen its answer

    def to_json(self) -> dict:
        return {
            "round": self.round_id,
            "choice": self.choice,
            "correct": self.correct,
            "counted": self.counted,
            "human_option": self.human,
            "options": [{"option": i, "text": o.text, "source": o.source, "diversity": o.diversity} for i, o in enumerate(self.options, 1)],
        }


def check_choice(choice) -> int:
    if isinstance(choice, bool) or not isinstance(choice, int) or not 1 <= choice <= N_OPTIONS:
        raise UserError(f"option must be 1, 2 or 3, not {choice!r}")
    return choice


def display(tokens: list[str], after: list[str] | None = None) -> str:
    """Tokens as a player reads them: sentence markers dropped, punctuation attached, sentence
    starts capitalised; ``after`` is the text they continue, if any."""
    return strip_controls(detokenize(tokens, capitalize=True, sentence_start=after is None or ends_sentence(after)))


def playable_words(tokens: list[str], seed_words: int, max_words: int, writable: Writable | None = None) -> int:
    """How many words after the seed a round may use: up to ``max_words``, stopping before the
    first word the model could not write after that seed."""
    seed, rest = tokens[:seed_words], tokens[seed_words : seed_words + max_words]
    if writable is None:
        return len(rest)
    return next((j for j, word in enumerate(rest) if not writable(word, seed)), len(rest))


class AllSeen(UserError):
    """A player has been dealt every abstract of the game."""


def abstract_keys(docs: dict[int, list[str]], seed_words: int, corpus: str = "") -> dict[int, str]:
    """Each document's abstract key, ``corpus:first document``: near-duplicates and documents that
    open with the same ``seed_words`` words share one (a player who saw one has seen the other)."""
    ids = sorted(docs)
    parent = list(range(len(ids)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    first: dict = {}
    groups = split.group_near_duplicates([docs[i] for i in ids]) if ids else []
    for k, i in enumerate(ids):
        for key in (("near-duplicates", groups[k]), ("seed", tuple(docs[i][:seed_words]))):
            if key in first:
                a, b = root(k), root(first[key])
                parent[max(a, b)] = min(a, b)
            else:
                first[key] = k
    return {i: f"{corpus}:{ids[root(k)]}" for k, i in enumerate(ids)}


class Game:
    """Deals rounds from the given held-out documents (already tokenised); ``corpus`` names their
    file in the abstract keys (its checksum)."""

    def __init__(self, docs: dict[int, list[str]], sample: Sample, rules: Rules = Rules(), writable: Writable | None = None,
                 corpus: str = ""):
        self.room = {i: playable_words(tokens, rules.seed_words, rules.max_words, writable) for i, tokens in docs.items()}
        self.docs = {i: tokens for i, tokens in docs.items() if self.room[i] >= rules.min_words}
        if not self.docs:
            raise UserError(f"no held-out abstract has the {rules.seed_words + rules.min_words} words a round needs; "
                            "pass another --data or fewer --seed-words")
        self.ids = sorted(self.docs)
        self.sample = sample
        self.rules = rules
        self.offered = len(docs)
        self.abstract_of = abstract_keys(self.docs, rules.seed_words, corpus)
        self.by_abstract: dict[str, list[int]] = {}
        for i in self.ids:
            self.by_abstract.setdefault(self.abstract_of[i], []).append(i)
        self.abstracts = frozenset(self.by_abstract)

    def dealer(self, model: str) -> str:
        """The key of this game's setting (``Rules.setting``) with ``model``: rounds of one key are interchangeable."""
        return hashlib.sha256(json.dumps(self.rules.setting(model), sort_keys=True).encode()).hexdigest()[:16]

    def new_round(self, rng: np.random.Generator, avoid: Collection[str] = (), abstract: str | None = None) -> Round:
        """A round of ``abstract``, or of an abstract drawn uniformly from those not in ``avoid``
        (AllSeen if none is left)."""
        r = self.rules
        if abstract is None:
            left = sorted(self.abstracts.difference(avoid))
            if not left:
                raise AllSeen(f"you have played all {len(self.abstracts)} abstracts of this game; there is no unseen one left")
            abstract = left[int(rng.integers(len(left)))]
        choices = self.by_abstract[abstract]
        doc_id = choices[int(rng.integers(len(choices)))]
        tokens = self.docs[doc_id]
        seed, rest = tokens[: r.seed_words], tokens[r.seed_words :]
        n = min(int(rng.integers(r.min_words, r.max_words + 1)), self.room[doc_id])
        options = [Option(display(rest[:n], seed), HUMAN, None)]
        for _ in range(N_OPTIONS - 1):
            diversity = round(float(rng.uniform(r.low, r.high)), 2)
            options.append(Option(display(self.sample(seed, n, r.sampler_at(diversity), rng), seed), MODEL, diversity))
        order = rng.permutation(N_OPTIONS)
        return Round(uuid.uuid4().hex, doc_id, display(seed), tuple(options[i] for i in order), n, abstract)


def from_run(run, rules: Rules = Rules(), data: str | None = None, sides: tuple[str, ...] = PLAYED) -> Game:
    """A game over a loaded run's held-out abstracts (``sides`` of its split, from the
    prepared-corpus cache, or the corpus from ``data`` or the path the run recorded, checked by
    checksum), sampling from its model."""
    from . import generation, runs

    docs: dict[int, list[str]] = {}
    for side in sides:
        ids = runs.split_indices(run, side)
        docs.update(zip(ids, runs.split_tokens(run, side, data=data, indices=ids)))  # from the prepared-corpus cache where it can

    def sample(seed: list[str], n: int, sampler: sampling.Sampler, rng: np.random.Generator) -> list[str]:
        return generation.continue_text(run, seed, n, rng, sampler).words

    return Game(docs, sample, rules, run.tokenizer.can_write, run.config["corpus_sha256"][:16])
