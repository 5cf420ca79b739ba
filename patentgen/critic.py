"""Critic stage: what makes a clause read as written by a person, learned from human and model text.

Owns the critics of critic-guided decoding (``sampling.CriticGuided``; Holtzman et al. 2018,
"Learning to Write with Cooperative Discriminators": a language model steered by discriminators
that were trained on human versus generated text). A *clause* is the text up to and including
the next ``,`` ``;`` ``.`` ``?`` or at most ``MAX_CLAUSE`` words. Each candidate clause gets one
number per critic (``FEATURES``):

* ``fluency``: the network's mean log-probability of its words (temperature 1, no caches);
* ``weakest``: the lowest of them (a single broken word: "is been", "the described also");
* ``repeats``: its 3- and 4-grams already in the text (or earlier in it), per word;
* ``stutters``: a word or two-word phrase said twice back to back ("layer layer");
* ``topic``: cosine of the mean embedding of its content words with that of the last 50 words;
* ``length``: its words over ``MAX_CLAUSE``, and ``ended``: whether it ended at punctuation.

``fit`` learns how to weigh them: at many places of training-split documents, the human clause
that follows and a clause the base sampler writes there are turned into features, and a logistic
regression on their differences (a pairwise, Bradley-Terry model) learns which of two clauses is
the human one. Decoding keeps the candidate with the highest score. The weights live in the run
folder's ``config.json`` (``"critic"``), fitted by ``train.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .inference import log_softmax

MAX_CLAUSE = 15
FEATURES = ("fluency", "weakest", "repeats", "stutters", "topic", "length", "ended")
CONTENT_FROM = 53  # ids below are reserved or the 50 most frequent words (the word cache's rule)
CONTEXT = 50  # words of text the topic critic compares with


@dataclass(frozen=True)
class Critic:
    """Weights of the critics (one per ``FEATURES``) on features standardised by ``scale``."""

    weights: tuple[float, ...]
    scale: tuple[float, ...]
    accuracy: float | None = None  # how often it tells the human clause of a held-out pair

    def score(self, found: np.ndarray) -> np.ndarray:
        """features (K, F) -> (K,) scores; higher reads more like a person."""
        scale = np.asarray(self.scale)
        standard = np.divide(found, scale, out=np.zeros_like(found, dtype=np.float64), where=scale > 0)  # a critic that never varied: 0
        return standard @ np.asarray(self.weights)

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "weights": [float(f"{w:.6g}") for w in self.weights],
                "scale": [float(f"{s:.6g}") for s in self.scale], "accuracy": self.accuracy}

    @classmethod
    def from_json(cls, data: dict) -> "Critic":
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError("the critic was fitted on other features")
        return cls(tuple(map(float, data["weights"])), tuple(map(float, data["scale"])), data.get("accuracy"))


CLAUSE_MARKS = (",", ";", ".", "?")


def clause_ends(index: dict[str, int]) -> frozenset[int]:
    """The ids of the marks that end a clause, from a tokenizer's index."""
    return frozenset(index[m] for m in CLAUSE_MARKS if m in index)


@dataclass(frozen=True)
class Guide:
    """What critic-guided decoding needs of a run: its critic, the ids that end a clause and the
    unit-length embeddings of the topic critic."""

    critic: Critic
    ends: frozenset[int]
    unit: np.ndarray  # (V, E)

    @classmethod
    def of(cls, critic: Critic, lm, index: dict[str, int]) -> "Guide":
        return cls(critic, clause_ends(index), unit_embeddings(lm))

    def best(self, clauses: list[list[int]], logps: list[list[float]], history: list[int]) -> list[int]:
        """The candidate clause the critics score highest."""
        found = np.stack([features(c, lp, history, self.unit, self.ends) for c, lp in zip(clauses, logps)])
        return clauses[int(np.argmax(self.critic.score(found)))]


def _ngrams(ids: Sequence[int], n: int) -> list[tuple]:
    return [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]


def features(clause: Sequence[int], logprobs: Sequence[float], history: Sequence[int], unit: np.ndarray,
             ends: frozenset[int]) -> np.ndarray:
    """(F,) critics of ``clause`` (ids) written after ``history`` (ids); ``logprobs``: the
    network's log-probability of each of its words; ``unit``: (V, E) unit-length embeddings."""
    clause, history = list(clause), list(history)
    text = history + clause
    repeats = 0
    for n in (3, 4):
        seen = set(_ngrams(history, n))
        for gram in _ngrams(text[max(len(history) - n + 1, 0) :], n):
            repeats += gram in seen
            seen.add(gram)
    start = len(history)
    stutters = sum(text[i] == text[i - 1] for i in range(max(start, 1), len(text)))
    stutters += sum(text[i - 1 : i + 1] == text[i - 3 : i - 1] for i in range(max(start, 3), len(text)))
    words = [w for w in clause if w >= CONTENT_FROM]
    context = [w for w in history[-CONTEXT:] if w >= CONTENT_FROM]
    topic = 0.0
    if words and context:
        a, b = unit[words].mean(axis=0), unit[context].mean(axis=0)
        topic = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    lp = np.asarray(logprobs, np.float64)
    return np.array([lp.mean(), lp.min(), repeats / len(clause), stutters, topic, len(clause) / MAX_CLAUSE,
                     float(bool(clause) and clause[-1] in ends)])


def unit_embeddings(lm) -> np.ndarray:
    """(V, E) the model's input embeddings scaled to unit length (the topic critic's space)."""
    e = np.asarray(lm.embeddings, np.float64)
    return e / (np.linalg.norm(e, axis=1, keepdims=True) + 1e-12)


def _take(state, rows: np.ndarray):
    """The state of ``rows`` of a batch (a model's state: arrays with the batch first, in tuples)."""
    if isinstance(state, tuple):
        return tuple(_take(s, rows) for s in state)
    return state[rows]


def step(lm, ids: np.ndarray, state):
    """Feed one word to each row of a batch: ids (K,) -> logits (K, V), state."""
    hidden, state = lm.hidden(np.asarray(ids, np.int64)[:, None], state)
    return lm.logits(hidden[:, -1]), state


Draw = Callable[[np.ndarray, list[int]], int]  # (logits (V,), history) -> the next id


def draw_clauses(lm, logits: np.ndarray, state, history: list[int], k: int, room: int, draw: Draw,
                 ends: frozenset[int]) -> tuple[list[list[int]], list[list[float]]]:
    """``k`` clauses drawn after ``history`` (the model's ``logits`` (V,) and ``state`` there),
    each up to its clause end or ``min(room, MAX_CLAUSE)`` words, the rows of one batch: the
    clauses and the network's log-probability of each of their words."""
    clauses: list[list[int]] = [[] for _ in range(k)]
    logps: list[list[float]] = [[] for _ in range(k)]
    batch, states = np.repeat(np.asarray(logits)[None], k, axis=0), _take(state, np.zeros(k, np.int64))
    live = list(range(k))
    for _ in range(min(room, MAX_CLAUSE)):
        logp = log_softmax(np.asarray(batch, np.float64))  # (len(live), V)
        words = []
        for row, i in enumerate(live):
            word = draw(batch[row], history + clauses[i])
            clauses[i].append(word)
            logps[i].append(float(logp[row, word]))
            words.append(word)
        live_rows = [row for row, w in enumerate(words) if w not in ends]
        live = [live[row] for row in live_rows]
        if not live:
            break
        batch, states = step(lm, np.asarray(words)[live_rows], _take(states, np.asarray(live_rows)))
    return clauses, logps


def human_clause(doc: Sequence[int], at: int, ends: frozenset[int]) -> list[int]:
    """The clause a document goes on with after its first ``at`` ids."""
    out = []
    for word in doc[at : at + MAX_CLAUSE]:
        out.append(int(word))
        if word in ends:
            break
    return out


def _logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Weights of a logistic regression without intercept, by Newton's method."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) / len(y) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x / len(y) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def fit(lm, docs: Sequence[np.ndarray], draw: Draw, ends: frozenset[int], rng: np.random.Generator,
        places: int = 600, holdout: float = 0.25) -> Critic:
    """Critic weights from ``places`` (document, position) pairs of ``docs`` (training-split
    documents as ids, each starting with <s>): the human clause there against one clause drawn
    by ``draw``; a quarter of the pairs is held out to report the critic's accuracy."""
    unit = unit_embeddings(lm)
    long = [d for d in docs if len(d) > 2 * MAX_CLAUSE]
    human, model = [], []
    for _ in range(places):
        doc = long[int(rng.integers(len(long)))]
        at = int(rng.integers(MAX_CLAUSE // 2, len(doc) - MAX_CLAUSE))
        history, clause = [int(w) for w in doc[:at]], human_clause(doc, at, ends)
        outputs, state = lm.hidden(np.asarray(history, np.int64)[None, :])
        logits = lm.logits(outputs[0, -1])  # (V,) after the history
        rows = [logits[None]]
        if len(clause) > 1:  # the network's logits inside the clause, from the state after the history
            rows.append(lm.logits(lm.hidden(np.asarray(clause[:-1], np.int64)[None, :], state)[0][0]))
        logp = log_softmax(np.asarray(np.concatenate(rows), np.float64))  # (len(clause), V)
        human.append(features(clause, logp[np.arange(len(clause)), clause], history, unit, ends))
        drawn, drawn_logp = draw_clauses(lm, logits, state, history, 1, MAX_CLAUSE, draw, ends)
        model.append(features(drawn[0], drawn_logp[0], history, unit, ends))
    diff = np.asarray(human) - np.asarray(model)  # (places, F)
    scale = np.maximum(np.std(np.concatenate([human, model]), axis=0), 1e-6)
    x, cut = diff / scale, int(len(diff) * (1 - holdout))
    weights = _logistic(np.concatenate([x[:cut], -x[:cut]]), np.concatenate([np.ones(cut), np.zeros(cut)]))
    accuracy = float(np.mean(x[cut:] @ weights > 0)) if cut < len(x) else None
    return Critic(tuple(float(w) for w in weights), tuple(float(s) for s in scale), None if accuracy is None else round(accuracy, 4))
