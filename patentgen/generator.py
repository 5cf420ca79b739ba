"""The Python API: ``patentgen.load()`` returns a ``Generator`` for one run folder (default: the
shipped model) that continues seeds, scores texts and lists a word's neighbours, with numpy only.

    import patentgen
    model = patentgen.load()                    # the shipped model; patentgen.load("models/mine") for a run of yours
    model.generate("a method for", words=30, random_seed=1)
    model.score("a neural network is trained").perplexity
    model.neighbours("neuron")                  # or model.neighbors("neuron")

Owns only that convenience: loading is ``runs.load_inference``, text in and out is
``generation``'s, samplers are ``sampling``'s and the default one is ``config.DEFAULT_SAMPLER``,
so a seed and a random seed give the same text here as with ``generate.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import generation, runs, sampling, samplerschema
from .config import DEFAULT_MODEL_DIR, DEFAULT_SAMPLER
from .errors import UserError


def _whole(value, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise UserError(f"{name} must be a whole number >= {least}, not {value!r}")
    return int(value)


def _alias(value, name: str, alias_value, alias: str, default):
    """One setting given under its name or its Hugging Face alias (``max_new_tokens``), not both."""
    if alias_value is not None and value is not None:
        raise UserError(f"{name} and {alias} are the same setting; pass one of them")
    return alias_value if alias_value is not None else default if value is None else value


class Generator:
    """One loaded run. ``run`` holds its parts (tokenizer, numpy model, config, metrics)."""

    def __init__(self, run: runs.Run):
        self.run = run

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Generator":
        """The run folder at ``path``, checked (UserError says what is wrong); None: the shipped model."""
        return cls(runs.load_inference(DEFAULT_MODEL_DIR if path is None else path))

    @property
    def path(self) -> Path:
        return self.run.path

    def __repr__(self) -> str:
        return f"Generator({str(self.path)!r}: {self.run.config['arch']}, {len(self.run.tokenizer):,} words)"

    def generate(self, seed: str = "", words: int | None = None, diversity: float | None = None, samples: int | None = None,
                 random_seed: int | None = None, *, max_new_tokens: int | None = None,
                 num_return_sequences: int | None = None, stop: str | list[str] | None = None, **options) -> str | list[str]:
        """Continue ``seed`` (empty: an abstract from its beginning) by ``words`` words (default
        50); the text, seed included, or a list of ``samples`` texts when ``samples`` > 1.

        ``diversity`` is the sampling temperature (0 is greedy; default: the default sampler's,
        ``config.DEFAULT_SAMPLER``; ``temperature=`` is the same). ``options`` are the sampler's other settings
        (``samplerschema.OPTIONS``: ``top_k=40``, ``top_p=0.9``, ``repetition_penalty=1.2``, ...;
        ``full=True`` draws from the whole distribution). ``random_seed`` (a whole number >= 0)
        makes it repeatable. ``stop``: a word or mark (or a list of them) that ends a text early,
        kept as its last word (``stop="."``: one sentence). Hugging Face's names work too:
        ``max_new_tokens`` for ``words``, ``num_return_sequences`` for ``samples``."""
        words = _whole(_alias(words, "words", max_new_tokens, "max_new_tokens", 50), "words")
        samples = _whole(_alias(samples, "samples", num_return_sequences, "num_return_sequences", 1), "samples")
        if not isinstance(seed, str):
            raise UserError(f"seed must be text, not {type(seed).__name__}")
        if random_seed is not None:
            _whole(random_seed, "random_seed", least=0)
        temperature = _alias(diversity, "diversity", options.pop("temperature", None), "temperature", None)
        sampler = sampling.from_description(samplerschema.resolve({**options, "diversity": temperature}, DEFAULT_SAMPLER))
        stops = generation.stop_ids(self.run, [stop] if isinstance(stop, str) else stop or [])
        rng = np.random.default_rng(random_seed)
        texts = [generation.continue_text(self.run, seed, words, rng, sampler, stops).text() for _ in range(samples)]
        return texts[0] if samples == 1 else texts

    def score(self, text: str) -> sampling.Score:
        """Each word's log-probability as the start of an abstract (``.words``, ``.logprobs``),
        ``.total`` and ``.perplexity``."""
        return generation.score_text(self.run, text)

    def neighbours(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` words whose embeddings are nearest ``word``'s by cosine similarity
        (``neighbors`` is the same, as generate.py's ``--neighbors``)."""
        return generation.neighbours(self.run, word, _whole(k, "k"))

    neighbors = neighbours
