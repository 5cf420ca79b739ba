"""Text in, text out: continue a seed, score a text, find neighbouring words, for one loaded run.

Owns the glue between a run's tokenizer and the samplers, shared by ``generate.py``, the web app,
the game and the benchmarks. Seeds are cleaned and tokenised exactly as training text was and
start after ``<s>``, as a document does (on a sentence corpus, a seed's last sentence is left
open, so that the model continues it). A generated ``<unk>`` is spelled as a real word by the
run's open vocabulary (runs without one never write it), as soon as it is drawn, from a random
generator of its own spawned from the caller's, so that words can be shown as they come.
Sentence markers are context, never scored words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
    """A seed's tokens and ids. Text is cleaned as training text was; on a sentence corpus its
    last sentence stays open (no closing marker), as the model is to continue it."""
    words = run.tokenizer.text_to_tokens(seed) if isinstance(seed, str) else list(seed)
    if isinstance(seed, str) and words and words[-1] == corpus.SENTENCE_END:
        words = words[:-1]
    return words, run.tokenizer.document_ids(words)


def stop_ids(run: Run, stops: Iterable[str]) -> list[int]:
    """The ids of stop words (``--stop``): each must be one word of the vocabulary, cleaned as
    training text was ("." or "wherein")."""
    ids = []
    for stop in stops:
        tokens = [t for t in run.tokenizer.text_to_tokens(stop) if t not in corpus.SENTENCE_MARKERS]
        if len(tokens) != 1:
            raise UserError(f"a stop word is one word or mark, and {stop!r} is {len(tokens)}; pass each as its own --stop")
        if tokens[0] not in run.tokenizer.index:
            raise UserError(f"stop word {stop!r} is not in the model's vocabulary, so it is never generated; pass another")
        ids.append(run.tokenizer.index[tokens[0]])
    return ids


def continue_text(
    run: Run, seed: str | list[str], n_words: int, rng: np.random.Generator, sampler: sampling.Sampler | None = None,
    stops: Iterable[int] = (), on_word: Callable[[str], None] | None = None,
) -> Continuation:
    """Continue ``seed`` (raw text, or tokens) by ``n_words`` words drawn by ``sampler``
    (default: temperature 1), or fewer when one of the ids ``stops`` is drawn (it is kept, as
    the last word). ``on_word`` gets each word as soon as it is drawn (spelled)."""
    words, ids = seed_ids(run, seed)
    unknown = list(dict.fromkeys(w for w in words if w not in run.tokenizer.index))
    spell_rng = rng.spawn(1)[0]  # spelling draws apart from the sampler's: the words come out the same, shown as they come or not
    text = list(words)  # the seed, then each word written

    def emit(word_id: int) -> None:
        text.append(run.tokenizer.spell_one(word_id, text, spell_rng))
        if on_word is not None:
            on_word(text[-1])

    fed = 0

    def step(new_ids, state):  # the decode loop feeds the seed once, then each word it drew but the last
        nonlocal fed
        if fed:
            for word_id in new_ids:  # one word, or a critic's chosen clause
                emit(word_id)
        fed += 1
        return run.lm.next_logits(new_ids, state)

    out = sampling.generate(step, ids, n_words, rng, sampler, banned_ids(run), list(stops), lm=run.lm, critic=run.guide)
    for word_id in out[len(text) - len(words) :]:  # what was drawn but never fed back: the last word or clause
        emit(word_id)
    return Continuation(words, unknown, out, text[len(words) :])


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
    document, under the network with the run's caches (``patentgen.cache``; none for a run
    trained with ``--no-eval``); an out-of-vocabulary word gets P(<unk>) times its spelling's probability when the run
    has an open vocabulary."""
    context = list(context or [])
    ids = run.tokenizer.document_ids(context + words)
    spelling = [float(x) for x in run.tokenizer.spelling_logprobs(context + words)[len(context) + 1 :]]
    mix = run.caches.mix if run.caches else None
    scored = sampling.score(run.lm.next_logits, ids[: len(context) + 1], ids[len(context) + 1 :], words, spelling,
                            mix, run.config["window"])
    kept = [j for j, word in enumerate(words) if word not in corpus.SENTENCE_MARKERS]  # context, not words of the text
    return sampling.Score([words[j] for j in kept], [float(scored.logprobs[j]) for j in kept])


def score_text(run: Run, text: str) -> sampling.Score:
    """Log-probability of every word of ``text`` as the start of a document (sentence markers,
    on a sentence corpus, as context only)."""
    words = run.tokenizer.text_to_tokens(text)
    if not [w for w in words if w not in corpus.SENTENCE_MARKERS]:
        raise UserError("nothing to score: the text has no words")
    return score_tokens(run, words)


def neighbours(run: Run, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` vocabulary words whose embeddings have the highest cosine similarity to ``word``."""
    # Sentence corpora wrap even one word in sentence markers: they are not part of the word.
    tokens = [t for t in run.tokenizer.text_to_tokens(word) if t not in corpus.SENTENCE_MARKERS]
    if len(tokens) != 1:
        example = f", e.g. {tokens[-1]!r}" if tokens else ""
        raise UserError(f"neighbours are listed for one word, and {word!r} is {len(tokens)} words as the model reads it; pass one{example}")
    if tokens[0] not in run.tokenizer.index:
        raise UserError(f"{word!r} is not in the model's vocabulary; try another word")
    matrix = run.lm.embeddings.astype(np.float64)
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    target = run.tokenizer.index[tokens[0]]
    similarity = unit @ unit[target]
    markers = [run.tokenizer.index[m] for m in corpus.SENTENCE_MARKERS if m in run.tokenizer.index]
    similarity[list(range(len(RESERVED))) + markers + [target]] = -np.inf
    best = np.argsort(-similarity)[:k]
    return [(run.tokenizer.vocab[i], float(similarity[i])) for i in best]
