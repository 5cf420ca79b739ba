"""Sampling stage: the sampler, a chain of processors over logits; the shared decode loop; text scoring.

Owns how a next word is chosen. A sampler is built once from a *sampler description* (a plain
dict, the same for the CLI, the web API and page, the game and the benchmarks:
``from_description`` / ``Sampler.description``; its options and their rules are declared once, in
``patentgen.samplerschema``) and handed to the one decode loop.

A step is an explicit chain. The logit processors, each ``(logits, history) -> logits``, in order:
``Ban`` (ids that are never words, and ``<unk>`` unless the run spells it), the rules against
repetition (``RepetitionPenalty``, ``NoRepeatNGram``, ``NoStutter``), ``Temperature``, and the
filter (``TopK``, ``TopP``, ``MinP``, ``Typical``; none: the whole distribution). Then the
softmax, and the mixing step: the caches (``WordCache``, ``PhraseCache``) mix in their ``Share``
of the text's own words. Then a draw (``draw``: numpy's ``choice``) from an explicit
``numpy.random.Generator``; temperature 0 is greedy. The loop asks any model for
``next_logits(ids, state) -> (logits, state)``: the Keras-trained LSTM through
``inference.NumpyLM``, the numpy RNN, or a test stub.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, ClassVar, Sequence

import numpy as np

from .config import DEFAULT_SAMPLER
from .errors import UserError
from .inference import log_softmax
from .samplerschema import BY_KEY, check, with_defaults  # noqa: F401 (with_defaults: this module's API too)
from .tokenizer import BOS_ID, PAD_ID, UNK_ID

DEFAULT = DEFAULT_SAMPLER  # generate.py's and the web page's sampler (patentgen.config)

NextLogits = Callable[[Sequence[int], object], tuple[np.ndarray, object]]
ALWAYS_BANNED = (PAD_ID, BOS_ID)  # never a word; <unk> is banned too unless the run spells it
NEVER_CACHED = (PAD_ID, UNK_ID, BOS_ID)  # neither cache copies these: <unk> stands for many words, and the
# open vocabulary's own copy rule already repeats a rare word of the context


def words_of(context: Sequence[int]) -> list[int]:
    """The ids of a context that the caches may use: ``<s>`` and padding left out."""
    return [int(w) for w in context if w not in ALWAYS_BANNED]


def _probs(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))


def draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    """An id drawn from ``probs`` (a distribution): exactly ``rng.choice(len(probs), p=probs)``,
    numpy's inverse-CDF draw (its cumulative sum scaled by the last value, one uniform,
    ``searchsorted`` on the right), the same id from the same generator, without ``choice``'s
    checks of ``probs``, which cost as much as the draw itself on every generated word."""
    cdf = probs.cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


# ----- processors: logits adjusted from the words so far ----------------------------------------
@dataclass(frozen=True)
class RepetitionPenalty:
    """CTRL's penalty (Keskar et al. 2019): a word already in the context has its logit divided by
    ``penalty`` if positive, multiplied if negative. ``<unk>`` is exempt: it stands for many words."""

    penalty: float

    def __call__(self, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        seen = np.fromiter(set(history) - {UNK_ID}, np.int64)
        if self.penalty == 1 or not len(seen):
            return logits
        out = logits.copy()
        values = out[seen]
        out[seen] = np.where(values > 0, values / self.penalty, values * self.penalty)
        return out


@dataclass(frozen=True)
class NoRepeatNGram:
    """Bans every word that would repeat an ``n``-gram of the context (``<unk>`` n-grams excepted)."""

    n: int

    def __call__(self, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        n = self.n
        if len(history) < n - 1 or n < 1:
            return logits
        tail = tuple(history[len(history) - n + 1 :]) if n > 1 else ()
        banned = {history[i + n - 1] for i in range(len(history) - n + 1) if tuple(history[i : i + n - 1]) == tail}
        banned.discard(UNK_ID)
        if not banned:
            return logits
        out = logits.copy()
        out[list(banned)] = -np.inf
        return out


@dataclass(frozen=True)
class NoStutter:
    """Bans every word that would say the text's last 1..``n`` words again right after them
    ("layer layer", "provided to provided to"), which people almost never write."""

    n: int

    def __call__(self, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        banned = {history[-k] for k in range(1, self.n + 1)
                  if len(history) >= 2 * k - 1 and list(history[len(history) - k + 1 :]) == list(history[len(history) - 2 * k + 1 : len(history) - k])}
        banned.discard(UNK_ID)
        if not banned:
            return logits
        out = logits.copy()
        out[list(banned)] = -np.inf
        return out


@dataclass(frozen=True)
class Share:
    """A cache's part of the next word's distribution: ``weight`` of the probability, spread
    over ``ids`` in proportion to ``shares`` (the words the cache holds, each once)."""

    weight: float
    ids: np.ndarray
    shares: np.ndarray

    @classmethod
    def of(cls, weight: float, words: list[int]) -> "Share":
        """``weight`` spread over ``words`` (with repeats) by their counts."""
        counts = Counter(words)
        ids = np.fromiter(counts, np.int64, len(counts))
        return cls(weight, ids, np.fromiter(counts.values(), np.int64, len(counts)) / len(words))

    def mix(self, probs: np.ndarray) -> np.ndarray:
        """``(1 - weight) * probs + weight * shares`` (shares 0 outside ``ids``): the same numbers
        as the dense sum, but the only work the size of the vocabulary is the scaling."""
        out = (1 - self.weight) * probs
        out[self.ids] += self.weight * self.shares
        return out


class _Cache:
    """What both caches do with their ``share``: mix it into a distribution."""

    def mix(self, probs: np.ndarray, history: Sequence[int]) -> np.ndarray:
        found = self.share(history)
        return probs if found is None else found.mix(probs)


@dataclass(frozen=True)
class PhraseCache(_Cache):
    """The continuation of a repeated phrase (an n-gram cache, the counterpart of
    ``NoRepeatNGram``): where the last ``context`` words already occurred in the text, the
    words that followed them there (``NEVER_CACHED`` ids left out) get a share ``weight`` of the probability,
    ``(1 - weight) * P_model + weight * share among those followers``. Patent abstracts repeat
    their phrases ("the neural network ... the neural network") more than the model alone does."""

    weight: float
    context: int = 2

    def followers(self, history: Sequence[int]) -> list[int]:
        """The words that followed the text's last ``context`` (>= 1) words where they occurred
        before, in order. Only the earlier places of the last word are visited (``list.index``
        jumps there), not every position: this runs once per generated word."""
        words, k = list(history), self.context
        n = len(words)
        if n <= k:
            return []
        tail, found, at = words[n - k :], [], k - 2
        while True:
            try:
                at = words.index(tail[-1], at + 1, n - 1)  # the phrase would end at `at`
            except ValueError:
                return found
            if words[at - k + 1 : at + 1] == tail and words[at + 1] not in NEVER_CACHED:
                found.append(words[at + 1])

    def share(self, history: Sequence[int]) -> Share | None:
        """The cache's part after ``history``: ``weight`` over the ``followers``; None where
        there are none (or the weight is 0)."""
        followers = self.followers(history) if self.weight and len(history) > self.context else []
        return Share.of(self.weight, followers) if followers else None


@dataclass(frozen=True)
class WordCache(_Cache):
    """A unigram cache (Kuhn & De Mori 1990): the next-word distribution mixed with the share
    of each word among the words already in the text, ``(1 - w) * P + w * share``. People reuse
    their terms (words are bursty) more than the model predicts. The cache is trusted as it
    fills: with ``n`` cached words, ``w = weight * n / (n + ramp)``. The ``skip_top`` most
    frequent words (punctuation and function words: the ids after the reserved ones, as the
    vocabulary is sorted by count), the reserved ids (``NEVER_CACHED``, as for the phrase cache)
    and the word just written are never cached."""

    weight: float
    skip_top: int = 50
    ramp: int = 10

    def cached(self, history: Sequence[int]) -> list[int]:
        """The words of the text the cache holds (with repeats)."""
        last, first = (history[-1] if len(history) else None), max(NEVER_CACHED) + 1 + self.skip_top  # the reserved ids come first
        return [w for w in history if w >= first and w != last]

    def factor(self, n: int) -> float:
        """How far the cache is trusted with ``n`` words in it."""
        return n / (n + self.ramp)

    def share(self, history: Sequence[int]) -> Share | None:
        """The cache's part after ``history``: ``weight`` times the ``factor`` over the
        ``cached`` words; None if nothing is cached (or the weight is 0)."""
        words = self.cached(history) if self.weight else []
        return Share.of(self.weight * self.factor(len(words)), words) if words else None


# ----- the step's other processors: the bans, the temperature and the filters ------------------
@dataclass(frozen=True)
class Ban:
    """Sends ``ids`` to -inf: the ids that are never words, and ``<unk>`` unless the run spells it."""

    ids: tuple[int, ...]

    def __call__(self, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        logits[list(self.ids)] = -np.inf
        return logits


@dataclass(frozen=True)
class Temperature:
    """Logits shifted so that the largest is 0, then divided by ``temperature`` (> 0): shifted
    first, so that tiny temperatures give 0 and -inf, never overflow."""

    temperature: float

    def __call__(self, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        shifted = logits - logits.max()
        return shifted if self.temperature == 1 else shifted / self.temperature


@dataclass(frozen=True)
class TopK:
    """Only the ``top_k`` most likely words (ties at the border kept)."""

    top_k: int

    def __call__(self, logits: np.ndarray, history: Sequence[int] = ()) -> np.ndarray:
        if self.top_k >= logits.shape[-1]:
            return logits
        border = np.partition(logits, -self.top_k)[-self.top_k]
        return np.where(logits >= border, logits, -np.inf)


@dataclass(frozen=True)
class TopP:
    """Nucleus sampling (Holtzman et al. 2020): the smallest set of most likely words whose
    probability reaches ``top_p``."""

    top_p: float

    def __call__(self, logits: np.ndarray, history: Sequence[int] = ()) -> np.ndarray:
        if self.top_p >= 1:
            return logits
        order = np.argsort(-logits)
        keep = int(np.searchsorted(np.cumsum(_probs(logits[order])), self.top_p)) + 1
        out = np.full_like(logits, -np.inf)
        out[order[:keep]] = logits[order[:keep]]
        return out


@dataclass(frozen=True)
class MinP:
    """Words at least ``min_p`` times as likely as the most likely one (Nguyen et al. 2024)."""

    min_p: float

    def __call__(self, logits: np.ndarray, history: Sequence[int] = ()) -> np.ndarray:
        return np.where(logits >= logits.max() + math.log(self.min_p), logits, -np.inf)


@dataclass(frozen=True)
class Typical:
    """Locally typical sampling (Meister et al. 2023): words whose surprisal is closest to the
    entropy, up to probability ``typical_p``."""

    typical_p: float

    def __call__(self, logits: np.ndarray, history: Sequence[int] = ()) -> np.ndarray:
        logp = log_softmax(logits)
        probs = np.exp(logp)
        entropy = -np.sum(probs[probs > 0] * logp[probs > 0])
        order = np.argsort(np.abs(-logp - entropy))
        keep = int(np.searchsorted(np.cumsum(probs[order]), self.typical_p)) + 1
        out = np.full_like(logits, -np.inf)
        out[order[:keep]] = logits[order[:keep]]
        return out


# Each processor with the description key and the attribute that hold its setting; the order of a
# description (and of a sampler's ``str``): temperature, filter, rules, caches.
FILTERS = {"top_k": TopK, "top_p": TopP, "min_p": MinP, "typical_p": Typical}  # samplerschema.STRATEGIES, each with its class
RULES = {"repetition_penalty": (RepetitionPenalty, "penalty"), "no_repeat_ngram": (NoRepeatNGram, "n"),
         "no_stutter": (NoStutter, "n")}
CACHES = {"word_cache": (WordCache, "weight"), "phrase_cache": (PhraseCache, "weight")}  # mixed in this order (as fitted)
RULE_OFF = {"repetition_penalty": 1}  # the setting that turns a rule off, where it is not 0


# ----- the sampler: a chain of processors, then the caches' mixing step, then a draw ---------------
@dataclass(frozen=True)
class Sampler:
    """One step: the logit processors in order (``Ban``, then the ``rules`` against repetition,
    which give way where they would leave no word at all, as a no-repeat rule can late in a long
    text; then ``Temperature`` and the ``filter``), the softmax, then the ``caches`` mixed in at
    their shares (scaled down by temperatures below 1, which would otherwise let the copies of the
    text's own phrases take over: loops), and a draw. Temperature 0 is greedy: the most likely
    word the bans and rules allow, the caches not applied."""

    temperature: float = 1.0
    filter: Callable | None = None  # TopK, TopP, MinP or Typical; None: the whole distribution
    rules: tuple = ()  # RepetitionPenalty, NoRepeatNGram, NoStutter
    caches: tuple = ()  # WordCache, PhraseCache

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def ruled(self, logits: np.ndarray, history: Sequence[int], banned: Sequence[int]) -> np.ndarray:
        """Logits (float64) after the bans and the rules."""
        allowed = Ban(tuple(banned))(np.array(logits, dtype=np.float64), history)
        out = allowed
        for rule in self.rules:
            out = rule(out, history)
        return out if out is allowed or np.isfinite(out.max()) else allowed

    def tempered(self, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        """Ruled logits through the temperature and the filter."""
        chain = [Temperature(self.temperature)] + ([self.filter] if self.filter is not None else [])
        with np.errstate(over="ignore", divide="ignore"):  # tiny temperatures give 0 and -inf
            for process in chain:
                logits = process(logits, history)
        return logits

    def mixed(self, probs: np.ndarray, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        """The caches' mixing step: each cache's share of ``history`` mixed into ``probs``, at most
        its weight times the temperature; the words the bans and rules left at -inf in ``logits``
        get none of it."""
        shares = [found for found in (cache.share(history) for cache in self.caches) if found is not None]
        cooled = min(self.temperature, 1.0)  # below temperature 1 the copies shrink with it: a cool text must not loop on them
        for found in shares:
            probs = (found if cooled == 1 else replace(found, weight=found.weight * cooled)).mix(probs)
        if shares:  # bans and no-repeat rules hold for copies too (elsewhere those words have 0 already)
            copied = np.concatenate([found.ids for found in shares])
            probs[copied[~np.isfinite(logits[copied])]] = 0.0
        return probs

    def distribution(self, logits: np.ndarray, history: Sequence[int] = (), banned: Sequence[int] = ()) -> np.ndarray:
        """P(next word), (V,) float64 summing to 1."""
        ruled = self.ruled(logits, history, banned)
        if self.greedy:
            probs = np.zeros(len(ruled))
            probs[int(np.argmax(ruled))] = 1.0
            return probs
        probs = self.mixed(_probs(self.tempered(ruled, history)), ruled, history)
        return probs / probs.sum()

    def next_id(self, logits: np.ndarray, rng: np.random.Generator, history: Sequence[int] = (), banned: Sequence[int] = ()) -> int:
        if self.greedy:
            return int(np.argmax(self.ruled(logits, history, banned)))
        return draw(self.distribution(logits, history, banned), rng)

    def decode(self, next_logits: NextLogits, seed_ids: Sequence[int], n_words: int, rng: np.random.Generator,
               banned: Sequence[int], stop_ids: Sequence[int] = (), lm=None, critic=None) -> list[int]:
        """Continue ``seed_ids`` (fed once) by up to ``n_words`` ids, one model step per word."""
        logits, state = next_logits(list(seed_ids), None)
        history = list(seed_ids)
        out: list[int] = []
        while True:
            word = self.next_id(logits, rng, history, banned)
            out.append(word)
            history.append(word)
            if len(out) == n_words or word in stop_ids:
                return out
            logits, state = next_logits([word], state)

    def with_temperature(self, temperature: float) -> "Sampler":
        """The same filter, rules and caches at another temperature (0 is greedy)."""
        return from_description({**self.description(), "temperature": temperature})

    def description(self) -> dict:
        """The options this sampler was built from (``from_description`` inverts it)."""
        out = {"temperature": self.temperature}
        if self.filter is not None:
            key = next(k for k, kind in FILTERS.items() if isinstance(self.filter, kind))
            out[key] = getattr(self.filter, key)
        for table, processors in ((RULES, self.rules), (CACHES, self.caches)):
            for process in processors:
                key, (_, attr) = next((k, v) for k, v in table.items() if isinstance(process, v[0]))
                out[key] = getattr(process, attr)
        return out

    def __str__(self) -> str:
        return ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in self.description().items())


@dataclass(frozen=True)
class CriticGuided:
    """Critic-guided decoding (Holtzman et al. 2018): ``base`` writes ``candidates`` clauses at
    once (the rows of one batch through the model), the run's critics (``patentgen.critic``,
    trained on human versus generated clauses) score them, and the best one is kept; then the
    next clause. ``base`` decides everything else (temperature, filter, caches, processors)."""

    base: Sampler
    candidates: int = 8
    kind: ClassVar[str] = "critic"

    @property
    def temperature(self) -> float:
        return self.base.temperature

    def distribution(self, logits, history=(), banned=()) -> np.ndarray:
        """The base sampler's next-word distribution (what the candidates are drawn from)."""
        return self.base.distribution(logits, history, banned)

    def next_id(self, logits, rng, history=(), banned=()) -> int:
        return self.base.next_id(logits, rng, history, banned)

    def decode(self, next_logits: NextLogits, seed_ids: Sequence[int], n_words: int, rng: np.random.Generator,
               banned: Sequence[int], stop_ids: Sequence[int] = (), lm=None, critic=None) -> list[int]:
        from . import critic as critics

        if lm is None or critic is None:
            raise UserError("critic-guided decoding needs a run with a fitted critic (train.py fits one); "
                            "drop the critic option, or retrain the run with this version")
        logits, state = next_logits(list(seed_ids), None)
        history, out = list(seed_ids), []

        def pick(row_logits, text):
            return self.base.next_id(row_logits, rng, text, banned)

        while len(out) < n_words:
            clauses, logps = critics.draw_clauses(lm, logits, state, history, self.candidates, n_words - len(out), pick, critic.ends)
            chosen = critic.best(clauses, logps, history)
            stop = next((i for i, w in enumerate(chosen) if w in stop_ids), None)
            chosen = chosen if stop is None else chosen[: stop + 1]
            history += chosen
            out += chosen
            if stop is not None:
                break
            logits, state = next_logits(chosen, state)
        return out[:n_words]

    def with_temperature(self, temperature: float) -> "CriticGuided":
        return from_description({**self.description(), "temperature": temperature})

    def description(self) -> dict:
        return {**self.base.description(), "critic": self.candidates}

    def __str__(self) -> str:
        return ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in self.description().items())


def from_description(desc: dict | None = None) -> Sampler | CriticGuided:
    """The sampler a description asks for, e.g. ``{"temperature": 0.9, "top_p": 0.95,
    "repetition_penalty": 1.2}``; an empty one is plain temperature-1 sampling. ``critic``
    (K >= 2) wraps it in critic-guided decoding with K candidates per clause."""
    desc = check(dict(desc or {}))  # the rules: patentgen.samplerschema
    if desc.get("critic", 0) >= 2:
        return CriticGuided(from_description({k: v for k, v in desc.items() if k != "critic"}), int(desc["critic"]))
    temperature = float(desc.get("temperature", 1.0))
    kind = next((k for k in FILTERS if k in desc), None)
    chosen = None if kind is None or temperature == 0 else FILTERS[kind](BY_KEY[kind].type(desc[kind]))
    rules = tuple(rule(BY_KEY[key].type(desc[key])) for key, (rule, _) in RULES.items()
                  if desc.get(key, RULE_OFF.get(key, 0)) != RULE_OFF.get(key, 0))
    caches = tuple(cache(float(desc[key])) for key, (cache, _) in CACHES.items() if desc.get(key))
    return Sampler(temperature, chosen, rules, caches)


# ----- the decode loop --------------------------------------------------------------------------
def generate(
    next_logits: NextLogits,
    seed_ids: Sequence[int],
    n_words: int,
    rng: np.random.Generator,
    sampler: Sampler | None = None,
    banned: Sequence[int] = ALWAYS_BANNED + (UNK_ID,),
    stop_ids: Sequence[int] = (),
    lm=None,
    critic=None,
) -> list[int]:
    """Continue ``seed_ids`` by up to ``n_words`` ids as ``sampler`` decodes (``lm``: the numpy
    model, for samplers that step several candidates at once; ``critic``: the run's fitted critic)."""
    sampler = sampler or Sampler()
    if n_words <= 0:
        return []
    return sampler.decode(next_logits, seed_ids, n_words, rng, banned, stop_ids, lm=lm, critic=critic)


# ----- scoring ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    """Log-probability of each word of a text given the words before it."""

    words: list[str]
    logprobs: list[float]  # natural log, one per word (a rare word: P(<unk>) times its spelling's)

    @property
    def total(self) -> float:
        return float(sum(self.logprobs))

    @property
    def perplexity(self) -> float:
        if not self.logprobs:
            return float("nan")
        mean = -self.total / len(self.logprobs)
        return math.exp(mean) if mean < 709 else float("inf")  # exp overflows past about 709.78

    def to_json(self) -> dict:
        """JSON has no infinity: a figure too large to write (a word the model gives probability 0) is null."""
        perplexity = self.perplexity
        return {
            "words": [{"word": w, "logprob": round(p, 4) if math.isfinite(p) else None} for w, p in zip(self.words, self.logprobs)],
            "total_logprob": round(self.total, 4) if math.isfinite(self.total) else None,
            "perplexity": round(perplexity, 3) if math.isfinite(perplexity) else None,
        }


def score(next_logits: NextLogits, context_ids: Sequence[int], ids: Sequence[int], words: Sequence[str],
          spelling: Sequence[float] | None = None, mix: Callable[[np.ndarray, list[int]], np.ndarray] | None = None,
          window: int = 50) -> Score:
    """Per-word log-probabilities of ``ids`` after ``context_ids`` (e.g. ``[<s>]``), plus each
    word's ``spelling`` log-probability if given (0 for in-vocabulary words). ``mix(probs,
    history)`` (a run's caches) adjusts each distribution from the last ``window`` ids, ``<s>``
    left out, as the evaluation does."""
    logits, state = next_logits(list(context_ids), None)
    seen, logprobs = list(context_ids), []
    for n, word_id in enumerate(ids):
        logp = log_softmax(np.asarray(logits, np.float64))
        if mix is not None:
            logp = np.log(mix(np.exp(logp), words_of(seen[-window:])))
        logprobs.append(float(logp[word_id]) + (spelling[n] if spelling else 0.0))
        seen.append(word_id)
        logits, state = next_logits([word_id], state)
    return Score(list(words), logprobs)

