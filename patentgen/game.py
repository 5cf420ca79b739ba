"""The human-vs-model guessing game: rounds built from test-split abstracts, and their reveal.

Owns the rules, with no I/O: a round shows the first ``seed_words`` words of a real abstract the
model never trained on and three continuations of the same length in random order, the real one
and two model samples, each at a diversity drawn from ``[low, high]``. The terminal program
(``game.py``) and the web app (``patentgen.web``) both play these rounds; ``patentgen.results``
keeps them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import UserError
from .tokenizer import detokenize, ends_sentence

N_OPTIONS = 3
HUMAN, MODEL = "human", "model"

# (seed tokens, n words, diversity, rng) -> n generated tokens
Sampler = Callable[[list[str], int, float, np.random.Generator], list[str]]


@dataclass(frozen=True)
class Rules:
    seed_words: int = 50  # words shown as the seed
    min_words: int = 30  # shortest continuation
    max_words: int = 50  # longest continuation
    low: float = 0.5  # model diversity is drawn from [low, high]
    high: float = 1.25

    def __post_init__(self):
        if not (0 < self.seed_words and 0 < self.min_words <= self.max_words and 0 < self.low <= self.high):
            raise UserError("game rules need seed_words >= 1, 1 <= min_words <= max_words and 0 < low <= high")


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

    def to_json(self) -> dict:
        return {
            "round": self.round_id,
            "choice": self.choice,
            "correct": self.correct,
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
    return detokenize(tokens, capitalize=True, sentence_start=after is None or ends_sentence(after))


class Game:
    """Deals rounds from the given test documents (already tokenised)."""

    def __init__(self, docs: dict[int, list[str]], sample: Sampler, rules: Rules = Rules()):
        need = rules.seed_words + rules.min_words
        self.docs = {i: tokens for i, tokens in docs.items() if len(tokens) >= need}
        if not self.docs:
            raise UserError(f"no test abstract has the {need} words a round needs; pass another --data or fewer --seed-words")
        self.ids = sorted(self.docs)
        self.sample = sample
        self.rules = rules

    def new_round(self, rng: np.random.Generator) -> Round:
        r = self.rules
        doc_id = self.ids[int(rng.integers(len(self.ids)))]
        tokens = self.docs[doc_id]
        seed, rest = tokens[: r.seed_words], tokens[r.seed_words :]
        n = min(int(rng.integers(r.min_words, r.max_words + 1)), len(rest))
        options = [Option(display(rest[:n], seed), HUMAN, None)]
        for _ in range(N_OPTIONS - 1):
            diversity = round(float(rng.uniform(r.low, r.high)), 2)
            options.append(Option(display(self.sample(seed, n, diversity, rng), seed), MODEL, diversity))
        order = rng.permutation(N_OPTIONS)
        return Round(uuid.uuid4().hex, doc_id, display(seed), tuple(options[i] for i in order), n)


def from_run(run, rules: Rules = Rules(), data: str | None = None) -> Game:
    """A game over a loaded run's test abstracts (the corpus recomputed from ``data`` or the
    path the run recorded, checked by checksum), sampling from its model."""
    from . import generation, runs

    texts = runs.corpus_texts(run, data)
    test_ids = runs.split_indices(run, "test")

    def sample(seed: list[str], n: int, diversity: float, rng: np.random.Generator) -> list[str]:
        return generation.continue_text(run, seed, n, rng, diversity).words(run)

    docs = {i: run.tokenizer.text_to_tokens(texts[i]) for i in test_ids}
    return Game(docs, sample, rules)
