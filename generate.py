#!/usr/bin/env python3
"""Continue a seed with a trained model, score a text, or list a word's neighbours.

    python generate.py --seed "a method for" --diversity 0.8
    python generate.py --random --samples 2           # a real test abstract beside the model's
    python generate.py --score "a neural network is trained"
    python generate.py --neighbors neuron

Loads a run folder (default: the shipped model) with numpy only: no TensorFlow start-up.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from patentgen import cli, generation, runs
from patentgen.config import DEFAULT_MODEL_DIR
from patentgen.errors import UserError
from patentgen.tokenizer import detokenize

MAX_WORDS = 10_000


def words(text: str) -> int:
    value = cli.positive_int(text)
    if value > MAX_WORDS:
        raise argparse.ArgumentTypeError(f"{value} is more than {MAX_WORDS:,} words")
    return value


def parse(argv=None):
    p = cli.Parser(prog="generate.py", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model, %(default)s)")
    g = p.add_argument_group("generation")
    g.add_argument("--seed", default="", help="text to continue; empty starts an abstract from the beginning")
    g.add_argument("--words", type=words, default=50, help=f"words to generate, 1 to {MAX_WORDS:,} (default: %(default)s)")
    g.add_argument("--diversity", type=cli.non_negative_float, default=0.8, help="sampling temperature; 0 is greedy (default: %(default)s)")
    g.add_argument("--top-k", type=cli.positive_int, help="draw only from the K most likely words")
    g.add_argument("--top-p", type=cli.unit_interval, help="draw only from the most likely words whose probability adds up to P")
    g.add_argument("--samples", type=cli.positive_int, default=1, help="how many continuations (default: %(default)s)")
    g.add_argument("--random-seed", type=int, help="makes the output repeatable")
    g.add_argument("--sentences", type=cli.positive_int, metavar="N", help="sample N whole sentences, start to end marker, at least --min-length words (reddit-style corpora)")
    g.add_argument("--min-length", type=cli.positive_int, default=5, help="shortest sentence for --sentences (default: %(default)s)")
    g.add_argument("--random", action="store_true", help="seed with the first 50 words of a random test abstract and show the real continuation")
    g.add_argument("--data", help="corpus for --random (default: the one the model was trained on)")
    g = p.add_argument_group("other modes")
    g.add_argument("--score", metavar="TEXT", help="print each word's log-probability, the total and the perplexity of TEXT")
    g.add_argument("--neighbors", metavar="WORD", help="print the 10 nearest words by cosine similarity of the embeddings")
    g.add_argument("--json", action="store_true", help="machine-readable output for --score and --neighbors")
    return p.parse_args(argv)


def warn_unknown(unknown: list[str]) -> None:
    if unknown:
        print(f"warning: not in the vocabulary, read as <unk>: {', '.join(unknown)}", file=sys.stderr)


def random_seed_words(run, args, rng) -> tuple[list[str], list[str]]:
    """(first 50 words, the next ``args.words`` words) of a random test-split abstract."""
    window = run.config["window"]
    texts = runs.corpus_texts(run, args.data)
    docs = [run.tokenizer.text_to_tokens(texts[i]) for i in runs.split_indices(run, "test")]
    candidates = [tokens for tokens in docs if len(tokens) > window]
    if not candidates:
        raise UserError(f"no test abstract is longer than {window} words; pass another --data")
    tokens = candidates[int(rng.integers(len(candidates)))]
    return tokens[:window], tokens[window : window + args.words]


def main(argv=None) -> int:
    args = parse(argv)
    run = runs.load_inference(args.model)
    if args.neighbors:
        found = generation.neighbours(run, args.neighbors)
        print(json.dumps(found) if args.json else "\n".join(f"{w:20s} {s:.3f}" for w, s in found))
        return 0
    if args.score:
        result = generation.score_text(run, args.score)
        warn_unknown(run.tokenizer.unknown_words(args.score))
        if args.json:
            print(json.dumps(result.to_json(), indent=2))
        else:
            for word, logprob in zip(result.words, result.logprobs):
                print(f"{word:20s} {logprob:9.3f}")
            print(f"total log-probability {result.total:.3f} nats, perplexity {result.perplexity:.2f}")
        return 0
    rng = np.random.default_rng(args.random_seed)
    if args.sentences:
        for _ in range(args.sentences):
            print(detokenize(generation.sentence(run, rng, args.diversity, args.min_length), capitalize=True))
        return 0
    seed, human = random_seed_words(run, args, rng) if args.random else (args.seed, None)
    for n in range(args.samples):
        result = generation.continue_text(run, seed, args.words, rng, args.diversity, args.top_k, args.top_p)
        if n == 0:
            warn_unknown(result.unknown)
            if human is not None:
                print(f"seed: {detokenize(result.seed_words, capitalize=True)}\n")
                print(f"human: ...{detokenize(human)}\n")
        label = f"model {n + 1} (diversity {args.diversity}): ..." if human is not None else ""
        if human is None and args.samples > 1:
            label = f"[{n + 1}] "
        print(f"{label}{result.text(run, with_seed=human is None)}" + ("\n" if args.samples > 1 or human else ""))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
