"""Text in, text out: continue a seed, score a text, find neighbouring words, for one loaded run.

Owns the glue between a run's tokenizer and the samplers, shared by ``generate.py``, the web app,
the game and the benchmarks. Seeds are cleaned and tokenised exactly as training text was and
start after ``<s>``, as a document does. A generated ``<unk>`` is spelled as a real word by the
run's open vocabulary (runs without one never write it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import corpus, sampling
from .errors import UserError
from .runs import Run
from .tokenizer import BOS_ID, RESERVED, UNK_ID, detokenize, ends_sentence


@dataclass(frozen=True)
class Continuation:
    seed_words: list[str]  # the seed's tokens as the user wrote them (unknown words kept)
    unknown: list[str]  # seed words outside the vocabulary, read as <unk>
    ids: list[int]  # the generated ids
    words: list[str]  # the generated words, each <unk> spelled

    def text(self, with_seed: bool = True) -> str:
        """For people: punctuation attached, sentences capitalised."""
        if with_seed:
            return detokenize(self.seed_words + self.words, capitalize=True)
        return detokenize(self.words, capitalize=True, sentence_start=ends_sentence(self.seed_words))


def banned_ids(run: Run) -> tuple[int, ...]:
    """Ids generation never writes: <pad>, <s>, and <unk> unless the run can spell it."""
    return sampling.ALWAYS_BANNED + (() if run.tokenizer.emits_unk else (UNK_ID,))


def seed_ids(run: Run, seed: str | list[str]) -> tuple[list[str], list[int]]:
    words = run.tokenizer.text_to_tokens(seed) if isinstance(seed, str) else list(seed)
    return words, run.tokenizer.document_ids(words)


def continue_text(
    run: Run, seed: str | list[str], n_words: int, rng: np.random.Generator, sampler: sampling.Sampler | None = None,
) -> Continuation:
    """Continue ``seed`` (raw text, or tokens) by ``n_words`` words drawn by ``sampler``
    (default: temperature 1)."""
    words, ids = seed_ids(run, seed)
    unknown = list(dict.fromkeys(w for w in words if w not in run.tokenizer.index))
    out = sampling.generate(run.lm.next_logits, ids, n_words, rng, sampler, banned_ids(run), lm=run.lm, critic=run.guide)
    return Continuation(words, unknown, out, run.tokenizer.spell(out, words, rng))


def sentence(
    run: Run, rng: np.random.Generator, sampler: sampling.Sampler | None = None, min_length: int = 5,
    max_length: int = 60, tries: int = 50,
) -> list[str]:
    """One sentence from SENTENCE_START until SENTENCE_END, at least ``min_length`` words
    (resampled until it is). For sentence corpora (reddit)."""
    start, end = (run.tokenizer.index.get(m) for m in (corpus.SENTENCE_START, corpus.SENTENCE_END))
    if start is None or end is None:
        raise UserError("this model's corpus has no sentence markers; use --seed instead of --sentences")
    words: list[str] = []
    for _ in range(tries):
        ids = sampling.generate(run.lm.next_logits, [BOS_ID, start], max_length + 1, rng, sampler, banned_ids(run), stop_ids=[end],
                                lm=run.lm, critic=run.guide)
        words = run.tokenizer.spell([i for i in ids if i != end], [], rng)
        if len(words) >= min_length:
            break
    return words


def score_tokens(run: Run, words: list[str], context: list[str] | None = None) -> sampling.Score:
    """Log-probability of each of ``words`` after ``context`` (both tokens) at the start of a
    document, under the network with the run's caches (``patentgen.cache``; none for older
    runs); an out-of-vocabulary word gets P(<unk>) times its spelling's probability when the run
    has an open vocabulary."""
    context = list(context or [])
    ids = run.tokenizer.document_ids(context + words)
    spelling = run.tokenizer.spelling_logprobs(context + words)[len(context) + 1 :]
    mix = run.caches.mix if run.caches else None
    return sampling.score(run.lm.next_logits, ids[: len(context) + 1], ids[len(context) + 1 :], words, list(spelling),
                          mix, run.config.get("window", 50))


def score_text(run: Run, text: str) -> sampling.Score:
    """Log-probability of every word of ``text`` as the start of a document."""
    words = run.tokenizer.text_to_tokens(text)
    if not words:
        raise UserError("nothing to score: the text has no words")
    return score_tokens(run, words)


def neighbours(run: Run, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` vocabulary words whose embeddings have the highest cosine similarity to ``word``."""
    # Sentence corpora wrap even one word in sentence markers: they are not part of the word.
    tokens = [t for t in run.tokenizer.text_to_tokens(word) if t not in corpus.SENTENCE_MARKERS]
    if len(tokens) != 1 or tokens[0] not in run.tokenizer.index:
        raise UserError(f"{word!r} is not in the model's vocabulary; try another word")
    matrix = run.lm.embeddings.astype(np.float64)
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    target = run.tokenizer.index[tokens[0]]
    similarity = unit @ unit[target]
    markers = [run.tokenizer.index[m] for m in corpus.SENTENCE_MARKERS if m in run.tokenizer.index]
    similarity[list(range(len(RESERVED))) + markers + [target]] = -np.inf
    best = np.argsort(-similarity)[:k]
    return [(run.tokenizer.vocab[i], float(similarity[i])) for i in best]
