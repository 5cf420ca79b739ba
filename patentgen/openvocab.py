"""Open vocabulary: the words behind ``<unk>``, for generation, scoring and a fair game.

Owns what the vocabulary rule set aside: the rare training words with their training counts; how
often an ``<unk>`` repeats an out-of-vocabulary word of its last ``window`` words (a writer
repeating a term of art), and how often a non-repeated one is a word never seen in training, both
measured on validation text; and a character-level Kneser-Ney model of spellings fitted on the
training words. Generation spells each sampled ``<unk>``: a copy of a context word with the
measured probability, else a rare training word drawn by count. Scoring shares ``P(<unk>)`` out
over spellings:

    P(w | <unk>, context) = c * copies(w) / oov(context)
                            + (1 - c) * ((1 - v) * count(w) / rare_total + v * P_chars(w))

(``c`` the copy probability where the context has an out-of-vocabulary word, else 0; ``v`` the
share of never-seen words). Fitted by ``train.py`` and stored in the run's ``tokenizer.json``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from .corpus import SENTENCE_MARKERS
from .errors import UserError

OTHER_CHARS = 2**16  # a character never seen in training: one of this many, uniformly
_PAD, _OTHER, _BOW, _EOW = range(4)  # reserved character ids


@dataclass(frozen=True)
class OpenVocab:
    rare: dict  # word -> training count, for every training word mapped to <unk>
    copy_prob: float  # P(an <unk> repeats an out-of-vocabulary word of its context | there is one)
    novel_prob: float  # P(a non-repeated <unk> is a word never seen in training)
    window: int  # words of context searched for a word to repeat
    known: tuple = field(default=(), repr=False)  # the in-vocabulary training words, for the spelling model

    def __post_init__(self):
        words = list(self.rare)
        object.__setattr__(self, "_rare_words", words)
        counts = np.array([self.rare[w] for w in words], np.float64)
        object.__setattr__(self, "_rare_p", counts / counts.sum() if len(counts) else counts)

    # ----- generation ------------------------------------------------------------------------
    def spell(self, word: str, context: Sequence[str], is_oov, rng: np.random.Generator) -> str:
        """A spelling for one sampled ``<unk>`` after ``context`` (words, oldest first). Like the
        samplers' no-stutter rule for other words, a copy is never the word just written (a
        decoding rule only: ``logprob`` scores text as the model saw it in training)."""
        oov = [w for w in context_oov(context, self.window, is_oov) if not context or w != context[-1]]
        if oov and rng.random() < self.copy_prob:
            return oov[int(rng.integers(len(oov)))]
        if not self._rare_words:
            raise ValueError("no rare training word to spell <unk> with")  # emits_unk is False for such runs
        return self._rare_words[int(rng.choice(len(self._rare_words), p=self._rare_p))]

    # ----- scoring ---------------------------------------------------------------------------
    def logprob(self, word: str, context: Sequence[str], is_oov) -> float:
        """log P(spelling ``word`` | the model wrote <unk> after ``context``)."""
        oov = context_oov(context, self.window, is_oov)
        copy = self.copy_prob if oov else 0.0
        total = sum(self.rare.values())
        rare = self.rare.get(word, 0) / total if total else 0.0
        # In logs: a long unlikely spelling's probability underflows to 0 as a float.
        terms = [math.log(p) for p in (copy * oov.count(word) / max(len(oov), 1), (1 - copy) * (1 - self.novel_prob) * rare) if p > 0]
        if self.novel_prob > 0 and copy < 1:
            terms.append(math.log((1 - copy) * self.novel_prob) + self.spelling().logprob(word))
        top = max(terms, default=-math.inf)
        return top + math.log(sum(math.exp(t - top) for t in terms)) if math.isfinite(top) else -math.inf

    def spelling(self) -> "CharModel":
        return _char_model(tuple(self.known) + tuple(self.rare))

    # ----- persistence -----------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"rare": self.rare, "copy_prob": self.copy_prob, "novel_prob": self.novel_prob, "window": self.window}

    @classmethod
    def from_json(cls, data: dict, known: Iterable[str]) -> "OpenVocab":
        return cls(dict(data["rare"]), float(data["copy_prob"]), float(data["novel_prob"]), int(data["window"]), tuple(known))


def known_words(vocab: Sequence[str]) -> tuple[str, ...]:
    """The real words of a vocabulary: reserved ids (the first three) and sentence markers left out."""
    return tuple(w for w in vocab[3:] if w not in SENTENCE_MARKERS)


def context_oov(context: Sequence[str], window: int, is_oov) -> list[str]:
    """The out-of-vocabulary words (every occurrence) among the last ``window`` of ``context``."""
    return [w for w in context[max(0, len(context) - window) :] if is_oov(w) and w not in SENTENCE_MARKERS]


# ----- the character model of spellings -------------------------------------------------------
class CharModel:
    """Kneser-Ney 5-gram over the characters of word types, with begin and end marks: a
    probability for any spelling, including ones never seen in training."""

    def __init__(self, words: Sequence[str], order: int = 5):
        from .ngram import KneserNey

        chars = sorted({ch for w in words for ch in w})
        self.ids = {ch: i + 4 for i, ch in enumerate(chars)}
        docs = [np.array(self.encode(w), np.int64) for w in words]
        self.order = order
        self.model = KneserNey(docs, len(chars) + 4, order)

    def encode(self, word: str) -> list[int]:
        return [_BOW] + [self.ids.get(ch, _OTHER) for ch in word] + [_EOW]

    def logprob(self, word: str) -> float:
        """log P(the word's characters, then its end)."""
        ids = self.encode(word)
        total = 0.0
        for i in range(1, len(ids)):
            context = tuple(ids[max(0, i - self.order + 1) : i])
            total += math.log(self.model.distribution(context)[ids[i]])
            if ids[i] == _OTHER:
                total -= math.log(OTHER_CHARS)
        return total


@lru_cache(maxsize=4)
def _char_model(words: tuple[str, ...]) -> CharModel:
    return CharModel(words)


# ----- fitting ------------------------------------------------------------------------------
def _estimate(hits: int, trials: int) -> float:
    """A share kept away from 0 and 1 (Jeffreys): (hits + 1/2) / (trials + 1)."""
    return (hits + 0.5) / (trials + 1)


def measure(val_docs: Iterable[list[str]], rare: dict, window: int, is_oov) -> tuple[float, float]:
    """(copy probability, never-seen share) from the <unk> targets of validation documents."""
    with_oov = copies = fresh = novel = 0
    for doc in val_docs:
        for j, word in enumerate(doc):
            if not is_oov(word):
                continue
            oov = context_oov(doc[:j], window, is_oov)
            with_oov += bool(oov)
            if word in oov:
                copies += 1
                continue
            fresh += 1
            novel += word not in rare
    return _estimate(copies, with_oov), _estimate(novel, fresh)


def attach(tokenizer, train_docs: Iterable[list[str]], val_docs: Iterable[list[str]], window: int):
    """The tokenizer with its open vocabulary: rare words counted on ``train_docs`` (which must
    give the tokenizer's own counts: the same corpus and split), rates measured on ``val_docs``."""
    counts = Counter(token for doc in train_docs for token in doc)
    stored = dict(zip(tokenizer.vocab, tokenizer.counts))
    differs = [w for w, n in stored.items() if n and counts.get(w) != n]
    if differs:
        raise UserError(f"the training text does not give this tokenizer's counts (e.g. {differs[0]!r}): "
                        "pass the corpus and split the run was trained on")
    rare = {w: n for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if w not in tokenizer.index}
    is_oov = lambda w: w not in tokenizer.index  # noqa: E731
    copy_prob, novel_prob = measure(val_docs, rare, window, is_oov)
    return replace(tokenizer, open_vocab=OpenVocab(rare, copy_prob, novel_prob, window, known_words(tokenizer.vocab)))

