"""Tokenizer stage: the single word <-> id mapping for training, generation, scoring and the game.

Owns the vocabulary (ids by count, then alphabetically; ``<pad>`` = 0, ``<unk>`` = 1), the
text -> tokens pipeline of each corpus kind, JSON save/load and detokenising for people. Its
``open_vocab`` (``patentgen.openvocab``) knows the words behind ``<unk>``: it spells generated
``<unk>`` ids and scores out-of-vocabulary words.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import corpus
from .errors import UserError
from .openvocab import OpenVocab, known_words

PAD, UNK, BOS = "<pad>", "<unk>", "<s>"
PAD_ID, UNK_ID, BOS_ID = 0, 1, 2
RESERVED = (PAD, UNK, BOS)
_NO_SPACE_BEFORE = set(corpus.PUNCTUATION) | {"!", ":", ")", "...", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}
_SENTENCE_END = {".", "?", "!"}


@dataclass(frozen=True)
class Tokenizer:
    """A fitted vocabulary plus the rules that turn raw text into its tokens."""

    vocab: tuple[str, ...]
    kind: str = "patents"
    lower: bool = True
    counts: tuple[int, ...] = ()
    state: dict = field(default_factory=dict, compare=False)  # what the corpus kind learned (Punkt)
    open_vocab: OpenVocab | None = field(default=None, compare=False)  # None: <unk> is never written
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if tuple(self.vocab[: len(RESERVED)]) != RESERVED:
            raise ValueError(f"vocab must start with {', '.join(RESERVED)}")
        object.__setattr__(self, "index", {word: i for i, word in enumerate(self.vocab)})

    # ----- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        docs: Iterable[list[str]],
        kind: str = "patents",
        lower: bool = True,
        min_count: int = 1,
        max_vocab: int | None = None,
        state: dict | None = None,
    ) -> "Tokenizer":
        """Vocabulary from tokenised training documents; ``max_vocab`` counts the reserved ids."""
        counts = Counter(token for doc in docs for token in doc)
        for reserved in RESERVED:
            counts.pop(reserved, None)
        ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
        if max_vocab is not None:
            ranked = ranked[: max(0, max_vocab - len(RESERVED))]
        vocab = RESERVED + tuple(word for word, _ in ranked)
        return cls(vocab, kind, lower, (0,) * len(RESERVED) + tuple(n for _, n in ranked), state or {})

    # ----- text <-> ids --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.vocab)

    def text_to_tokens(self, text: str) -> list[str]:
        """Raw text -> tokens, cleaned exactly as training text was."""
        return corpus.text_tokens(text, self.kind, self.lower, self.state)

    def tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        return [self.index.get(token, UNK_ID) for token in tokens]

    def encode(self, text: str) -> list[int]:
        return self.tokens_to_ids(self.text_to_tokens(text))

    def document_ids(self, tokens: Iterable[str]) -> list[int]:
        """Tokens of a document (or of a seed, which starts one) as the model sees them:
        ``<s>`` then their ids."""
        return [BOS_ID] + self.tokens_to_ids(tokens)

    def encode_document(self, text: str) -> list[int]:
        """A whole raw document as the model sees it: ``<s>`` then its words."""
        return self.document_ids(self.text_to_tokens(text))

    def is_oov(self, word: str) -> bool:
        return word not in self.index

    @property
    def emits_unk(self) -> bool:
        """Whether generation may write <unk> (spelled as a real word) rather than ban it: the
        run knows the rare training words it stands for."""
        return self.open_vocab is not None and bool(self.open_vocab.rare)

    def spell(self, ids: Sequence[int], context: Sequence[str], rng: np.random.Generator) -> list[str]:
        """Generated ``ids`` as words, each ``<unk>`` spelled after ``context`` and the words
        before it (a closed-vocabulary run leaves ``<unk>``)."""
        words = list(context)
        for i in ids:
            words.append(self.spell_one(i, words, rng))
        return words[len(context) :]

    def spell_one(self, i: int, context: Sequence[str], rng: np.random.Generator) -> str:
        """One generated id as a word after ``context`` (``spell`` word by word, drawing from
        ``rng`` only for an ``<unk>``)."""
        if i == UNK_ID and self.emits_unk:
            return self.open_vocab.spell(self.vocab[i], context, self.is_oov, rng)
        return self.vocab[i]

    def can_write(self, word: str, context: Iterable[str] = ()) -> bool:
        """Whether the model could write ``word`` after ``context``: in the vocabulary, a rare
        training word, or (a copy) an out-of-vocabulary word of the context."""
        if word in self.index:
            return True
        if self.open_vocab is None:
            return False
        return word in self.open_vocab.rare or word in set(context)

    def spelling_logprobs(self, tokens: Sequence[str]) -> np.ndarray:
        """log P(spelling | <unk>, context) of each token of a document (0 where in the
        vocabulary), aligned with ``document_ids`` (a leading 0 for ``<s>``)."""
        out = np.zeros(len(tokens) + 1)
        if self.open_vocab is None:
            return out
        for j, word in enumerate(tokens):
            if word not in self.index:
                out[j + 1] = self.open_vocab.logprob(word, tokens[:j], self.is_oov)
        return out

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` outside the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(t for t in self.text_to_tokens(text) if t not in self.index))

    def decode(self, ids: Iterable[int], for_people: bool = False) -> str:
        """Ids -> text with punctuation re-attached; ``for_people`` also capitalises sentences."""
        words = [self.vocab[i] for i in ids if i not in (PAD_ID, BOS_ID)]
        return detokenize(words, capitalize=for_people)

    # ----- persistence ---------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "kind": self.kind, "lower": self.lower, "vocab": list(self.vocab), "counts": list(self.counts),
            "state": self.state, **({"open_vocab": self.open_vocab.to_json()} if self.open_vocab else {}),
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            vocab = tuple(data["vocab"])
            extra = data.get("open_vocab")
            return cls(
                vocab, data["kind"], bool(data["lower"]), tuple(data["counts"]),
                data["state"], OpenVocab.from_json(extra, known_words(vocab)) if extra else None,
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UserError(f"cannot read tokenizer {path} ({err}); retrain the run or pick another --model") from None


def ends_sentence(words: list[str]) -> bool:
    """Whether the next word after ``words`` starts a sentence."""
    return not words or words[-1] in _SENTENCE_END or words[-1] in corpus.SENTENCE_MARKERS


class Detokenizer:
    """``detokenize`` one word at a time: ``add(word)`` returns the text that word adds (with
    the space before it, if any), so that text can be shown as it is written."""

    def __init__(self, capitalize: bool = False, sentence_start: bool = True):
        self.capitalize, self.start, self.empty = capitalize, sentence_start, True

    def add(self, word: str) -> str:
        if word in corpus.SENTENCE_MARKERS:
            self.start = True
            return ""
        if self.capitalize and self.start and word[:1].isalpha():
            word = word[0].upper() + word[1:]
        piece = word if self.empty or word in _NO_SPACE_BEFORE else " " + word
        self.empty, self.start = False, word in _SENTENCE_END
        return piece


def detokenize(words: Iterable[str], capitalize: bool = False, sentence_start: bool = True) -> str:
    """Join tokens into text: no space before ``. , ; ?``; optionally capitalise sentence starts
    (the first word too, unless ``sentence_start`` is False: a continuation mid-sentence)."""
    joiner = Detokenizer(capitalize, sentence_start)
    return "".join(joiner.add(word) for word in words)
