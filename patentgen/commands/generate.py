"""Continue a seed with a trained model, score a text, or list a word's neighbours.

    .venv/bin/python generate.py --seed "a method for" --diversity 0.8
    .venv/bin/python generate.py --random --samples 2           # a real test abstract beside the model's
    .venv/bin/python generate.py --score "a neural network is trained"
    .venv/bin/python generate.py --neighbors neuron
    echo "a method for" | .venv/bin/python generate.py --seed - --output out.txt

One mode at a time (--seed, --random, --sentences, --score, --neighbors); a flag that the chosen
mode does not use is refused rather than ignored. Loads a run folder (default: the shipped
model) with numpy only: no TensorFlow start-up.

The command behind ``generate.py`` and ``patentgen-generate``.
"""

from __future__ import annotations

import argparse
import json
import sys

from patentgen import cli, deps
from patentgen.config import DEFAULT_SAMPLER

MAX_WORDS = 10_000
MODES = ("seed", "random", "sentences", "score", "neighbors")
# Flags of the "generation" group that a generating mode does not use (refused, not ignored);
# --score and --neighbors use none of that group.
UNUSED = {
    "seed": {"min_length", "data"},
    "random": {"min_length"},
    "sentences": {"words", "samples", "data"},
}
ONLY_WITH = {"data": "--random", "min_length": "--sentences"}


def words(text: str) -> int:
    value = cli.positive_int(text)
    if value > MAX_WORDS:
        raise argparse.ArgumentTypeError(f"{value} is more than {MAX_WORDS:,} words")
    return value


def build_parser() -> tuple[cli.Parser, argparse._ArgumentGroup]:
    from patentgen.config import DEFAULT_MODEL_DIR

    p = cli.Parser(prog=cli.prog("generate.py"), description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model, %(default)s)")
    m = p.add_argument_group("mode (at most one; without one, an abstract is started from the beginning)")
    modes = m.add_mutually_exclusive_group()
    modes.add_argument("--seed", help="text to continue; - reads it from standard input; empty starts an abstract from the beginning")
    modes.add_argument("--random", action="store_true", help="seed with the first 50 words of a random test abstract and show the real continuation")
    modes.add_argument("--sentences", type=cli.positive_int, metavar="N", help="sample N whole sentences, start to end marker, at least --min-length words (reddit-style corpora)")
    modes.add_argument("--score", metavar="TEXT", help="print each word's log-probability, the total and the perplexity of TEXT (- reads it from standard input)")
    modes.add_argument("--neighbors", metavar="WORD", help="print the 10 nearest words by cosine similarity of the embeddings")
    g = p.add_argument_group("generation")
    g.add_argument("--words", type=words, default=50, help=f"words to generate, 1 to {MAX_WORDS:,} (default: %(default)s)")
    cli.add_sampler_flags(g, DEFAULT_SAMPLER)
    g.add_argument("--samples", type=cli.positive_int, default=1, help="how many continuations (default: %(default)s)")
    g.add_argument("--random-seed", type=int, help="makes the output repeatable")
    g.add_argument("--min-length", type=cli.positive_int, default=5, help="shortest sentence for --sentences (default: %(default)s)")
    g.add_argument("--data", help="corpus for --random (default: the one the model was trained on)")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="machine-readable output, for every mode")
    o.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE (whole or not at all) instead of standard output")
    return p, g


def parse(argv=None) -> argparse.Namespace:
    p, generation_group = build_parser()
    args = p.parse_args(argv)
    args.mode = next((m for m in MODES[2:] if getattr(args, m) is not None), "random" if args.random else "seed")
    given = cli.given(p, argv)
    group = {a.dest: a.option_strings[0] for a in generation_group._group_actions}
    unused = set(group) if args.mode in ("score", "neighbors") else UNUSED[args.mode]
    refused = [dest for dest in group if dest in unused and dest in given]
    if refused:
        flags = ", ".join(group[dest] for dest in refused)
        if all(dest in ONLY_WITH for dest in refused) and args.mode in ("seed", "random"):
            p.error(f"{flags} {'is' if len(refused) == 1 else 'are'} only used with {' or '.join(sorted({ONLY_WITH[d] for d in refused}))}; drop {'it' if len(refused) == 1 else 'them'}")
        mode = f"--{args.mode}" if args.mode != "seed" else "--seed"
        p.error(f"{flags} {'does' if len(refused) == 1 else 'do'} nothing with {mode}; drop {'it' if len(refused) == 1 else 'them'}")
    for flag in ("seed", "score", "neighbors"):
        value = getattr(args, flag)
        if value == "-" and flag != "neighbors":
            value = cli.read_stdin(f"the --{flag} text")
        if value is not None:
            setattr(args, flag, cli.check_utf8(value, f"--{flag}"))
    if args.output is not None:
        args.output = cli.check_output(args.output)
    return args


def random_seed_words(run, args, rng) -> tuple[list[str], list[str]]:
    """(first 50 words, the next ``args.words`` words) of a random test-split abstract."""
    from patentgen import runs
    from patentgen.errors import UserError

    window = run.config["window"]
    docs = runs.split_tokens(run, "test", data=args.data)  # from the prepared-corpus cache where it can
    candidates = [tokens for tokens in docs if len(tokens) > window]
    if not candidates:
        raise UserError(f"no test abstract is longer than {window} words; pass another --data")
    tokens = candidates[int(rng.integers(len(candidates)))]
    return tokens[:window], tokens[window : window + args.words]


def score(run, args) -> str:
    from patentgen import generation
    from patentgen.errors import UserError

    if not run.tokenizer.text_to_tokens(args.score):
        raise UserError(f"nothing to score: {args.score!r} has no words; pass the text, e.g. --score \"a neural network is trained\"")
    result = generation.score_text(run, args.score)
    if args.json:
        return json.dumps(result.to_json(), indent=2)
    lines = [f"{word:20s} {logprob:9.3f}" for word, logprob in zip(result.words, result.logprobs)]
    return "\n".join([*lines, f"total log-probability {result.total:.3f} nats, perplexity {result.perplexity:.2f}"])


def neighbors(run, args) -> str:
    from patentgen import generation

    found = generation.neighbours(run, args.neighbors)
    return json.dumps(found) if args.json else "\n".join(f"{w:20s} {s:.3f}" for w, s in found)


def sampler_from(args):
    from patentgen import sampling

    return sampling.from_description(cli.sampler_description(args, DEFAULT_SAMPLER))


def sentences(run, args, rng) -> str:
    from patentgen import generation
    from patentgen.tokenizer import detokenize

    sampler = sampler_from(args)
    texts = [detokenize(generation.sentence(run, rng, sampler, args.min_length), capitalize=True) for _ in range(args.sentences)]
    if args.json:
        return json.dumps({"model": str(run.path), "sampler": sampler.description(), "random_seed": args.random_seed, "sentences": texts}, indent=2)
    return "\n".join(texts)


def continuations(run, args, rng) -> tuple[str, list[str]]:
    """The text for --seed (or no mode) and --random, and the seed's unknown words."""
    from patentgen import generation
    from patentgen.tokenizer import detokenize

    seed, human = random_seed_words(run, args, rng) if args.mode == "random" else (args.seed or "", None)
    sampler = sampler_from(args)
    results = [generation.continue_text(run, seed, args.words, rng, sampler) for _ in range(args.samples)]
    unknown = results[0].unknown
    if args.json:
        data = {
            "model": str(run.path), "seed": detokenize(results[0].seed_words, capitalize=True), "words": args.words,
            "sampler": sampler.description(), "random_seed": args.random_seed,
            "unknown": unknown, "samples": [{"text": r.text(), "continuation": r.text(with_seed=False)} for r in results],
        }
        if human is not None:
            data["human"] = detokenize(human)
        return json.dumps(data, indent=2), unknown
    if human is not None:
        out = [f"seed: {detokenize(results[0].seed_words, capitalize=True)}\n", f"human: ...{detokenize(human)}\n"]
        out += [f"model {n} ({sampler}): ...{r.text(with_seed=False)}\n" for n, r in enumerate(results, 1)]
        return "\n".join(out).rstrip("\n"), unknown
    if args.samples == 1:
        return results[0].text(), unknown
    return "\n\n".join(f"[{n}] {r.text()}" for n, r in enumerate(results, 1)), unknown


def main(argv=None) -> int:
    args = parse(argv)
    deps.require("numpy")
    import numpy as np

    import patentgen

    run = patentgen.load(args.model).run  # the Python API's Generator; the run it holds
    unknown: list[str] = []
    if args.mode == "neighbors":
        text = neighbors(run, args)
    elif args.mode == "score":
        text = score(run, args)
        unknown = run.tokenizer.unknown_words(args.score)
    else:
        rng = np.random.default_rng(args.random_seed)
        if args.mode == "sentences":
            text = sentences(run, args, rng)
        else:
            text, unknown = continuations(run, args, rng)
    if unknown:
        print(f"warning: not in the vocabulary, read as <unk>: {', '.join(unknown)}", file=sys.stderr)
    if args.output is None:
        print(text)
    else:
        cli.write_output(args.output, text + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def entry() -> int:
    """The ``patentgen-generate`` command."""
    return cli.run(main)
