"""Continue a seed with a trained model, score a text, or list a word's neighbours.

    .venv/bin/python generate.py --seed "a method for" --diversity 0.8
    .venv/bin/python generate.py --prompts prompts.txt --diversities 0.5,1.0   # each line a seed, at two temperatures
    .venv/bin/python generate.py --random --samples 2           # a real test abstract beside the model's
    .venv/bin/python generate.py --score "a neural network is trained"
    .venv/bin/python generate.py --score - < lines.txt          # one line at a time, as KenLM's query
    .venv/bin/python generate.py --neighbors neuron
    echo "a method for" | .venv/bin/python generate.py --seed - --output out.txt

One mode at a time (--seed, --prompts, --random, --sentences, --score, --neighbors); a flag that
the chosen mode does not use is refused rather than ignored. Loads a run folder (default: the
shipped model) with numpy only: no TensorFlow start-up. On a terminal the text is shown as it is
written (--no-stream waits for the whole of it); a long job shows its progress on stderr.

The command behind ``generate.py`` and ``patentgen-generate``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

from patentgen import cli, deps
from patentgen.config import DEFAULT_SAMPLER

MAX_WORDS = 10_000
MAX_TOTAL_WORDS = 1_000_000  # words one call writes at most (texts x words): minutes, not days
SENTENCE_WORDS = 61  # the most words a --sentences sentence takes (generation.sentence's max_length + its end)
PROGRESS_AFTER_S = 2.0  # a job expected to take longer shows its progress
MODES = ("seed", "prompts", "random", "sentences", "score", "neighbors")
GENERATING = ("seed", "prompts", "random")
# Flags of the "generation" group that a mode does not use (refused, not ignored); --score and
# --neighbors use none of that group.
UNUSED = {
    "seed": {"min_length", "data"},
    "prompts": {"min_length", "data"},
    "random": {"min_length"},
    "sentences": {"words", "samples", "data", "diversities", "stop"},
}
ONLY_WITH = {"data": "--random", "min_length": "--sentences"}


def words(text: str) -> int:
    value = cli.positive_int(text)
    if value > MAX_WORDS:
        raise argparse.ArgumentTypeError(f"{value} is more than {MAX_WORDS:,} words")
    return value


def diversities(text: str) -> list[float]:
    """``0.5,0.8,1`` -> [0.5, 0.8, 1.0]: several temperatures, each checked as --diversity is."""
    values = [cli.non_negative_float(part.strip()) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} lists no diversity; pass numbers separated by commas, e.g. 0.5,1.0")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"{text!r} lists a diversity twice")
    return values


def build_parser() -> tuple[cli.Parser, dict[str, str]]:
    from patentgen.config import DEFAULT_MODEL_DIR

    p = cli.Parser(prog=cli.prog("generate.py"), description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model, %(default)s)")
    m = p.add_argument_group("mode (at most one; without one, an abstract is started from the beginning)")
    modes = m.add_mutually_exclusive_group()
    modes.add_argument("--seed", help="text to continue; - reads it from standard input; empty starts an abstract from the beginning")
    modes.add_argument("--prompts", metavar="FILE", help="continue each line of FILE as a seed (- reads standard input); blank lines are skipped")
    modes.add_argument("--random", action="store_true", help="seed with the first 50 words of a random test abstract and show the real continuation")
    modes.add_argument("--sentences", type=cli.positive_int, metavar="N", help="sample N whole sentences, start to end marker, at least --min-length words (reddit-style corpora)")
    modes.add_argument("--score", metavar="TEXT", help="print each word's log-probability (out-of-vocabulary words marked), the total and the "
                       "perplexity of TEXT; - scores each line of standard input as it comes, one output line per input line")
    modes.add_argument("--neighbors", "--neighbours", metavar="WORD", help="print the 10 nearest words by cosine similarity of the embeddings")
    g = p.add_argument_group("generation")
    generation: list[argparse.Action] = []  # the group's flags (argparse lists them only privately)

    def add(*flags, **kwargs) -> None:
        generation.append(g.add_argument(*flags, **kwargs))

    add("--words", "--max-new-tokens", type=words, default=50, help=f"words to generate, 1 to {MAX_WORDS:,} (default: %(default)s)")
    generation += cli.add_sampler_flags(g, DEFAULT_SAMPLER)
    add("--diversities", type=diversities, metavar="LIST", help="several temperatures in one call, e.g. 0.5,0.8,1.2: "
                   "every seed and sample at each (instead of --diversity)")
    add("--samples", "--num-return-sequences", type=cli.positive_int, default=1, help="how many continuations of each seed (default: %(default)s)")
    add("--random-seed", type=cli.random_seed, help="a whole number >= 0: makes the output repeatable")
    add("--stop", action="append", metavar="WORD", help="end a text early where the model writes WORD (kept), e.g. "
                   "--stop . for one sentence; repeatable; --words stays the most. The model has no end-of-text mark of its own")
    add("--min-length", type=cli.positive_int, default=5, help="shortest sentence for --sentences (default: %(default)s)")
    add("--data", help="corpus for --random (default: the one the model was trained on)")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="machine-readable output, for every mode (--score -: one JSON object a line)")
    o.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE (whole or not at all) instead of standard output")
    o.add_argument("--stream", action=argparse.BooleanOptionalAction, help="show each text word by word as it is written "
                   "(default: on a terminal, for plain text)")
    return p, {action.dest: action.option_strings[0] for action in generation}


def parse(argv=None) -> argparse.Namespace:
    p, group = build_parser()
    args = p.parse_args(argv)
    args.mode = next((m for m in MODES[3:] if getattr(args, m) is not None), "random" if args.random else
                     "prompts" if args.prompts is not None else "seed")
    given = cli.given(p, argv)
    unused = set(group) if args.mode in ("score", "neighbors") else UNUSED[args.mode]
    refused = [dest for dest in group if dest in unused and dest in given]
    if refused:
        flags = ", ".join(group[dest] for dest in refused)
        if all(dest in ONLY_WITH for dest in refused) and args.mode in GENERATING:
            p.error(f"{flags} {'is' if len(refused) == 1 else 'are'} only used with {' or '.join(sorted({ONLY_WITH[d] for d in refused}))}; drop {'it' if len(refused) == 1 else 'them'}")
        p.error(f"{flags} {'does' if len(refused) == 1 else 'do'} nothing with --{args.mode}; drop {'it' if len(refused) == 1 else 'them'}")
    if args.diversity is not None and args.diversities is not None:
        p.error("--diversity and --diversities both set the temperature; pass one of them")
    if args.stream and (args.json or args.output or args.mode in ("score", "neighbors")):
        p.error("--stream shows generated text on the terminal as it is written; it does nothing with "
                + ("--json" if args.json else "--output" if args.output else f"--{args.mode}"))
    for flag in ("seed", "score", "neighbors"):
        value = getattr(args, flag)
        if value == "-" and flag == "seed":
            value = cli.read_stdin("the --seed text")
        if value is not None and value != "-":
            setattr(args, flag, cli.check_utf8(value, f"--{flag}"))
    args.seeds = read_prompts(args.prompts) if args.prompts is not None else [args.seed or ""]
    args.temperatures = args.diversities or [args.diversity]
    if args.mode == "sentences":
        total, what = args.sentences * SENTENCE_WORDS, f"--sentences {args.sentences:,} (up to {SENTENCE_WORDS} words each)"
    else:
        texts = len(args.seeds) * len(args.temperatures) * args.samples
        total = texts * args.words
        what = " x ".join([*([f"{len(args.seeds):,} prompts"] if len(args.seeds) > 1 else []),
                           *([f"{len(args.temperatures)} diversities"] if len(args.temperatures) > 1 else []),
                           f"--samples {args.samples:,}", f"--words {args.words:,}"])
    if args.mode in ("seed", "prompts", "random", "sentences") and total > MAX_TOTAL_WORDS:
        p.error(f"{what} asks for {total:,} words; one call writes at most {MAX_TOTAL_WORDS:,} (minutes of work, where "
                f"this would take {total // MAX_TOTAL_WORDS:,} times as long): ask for fewer, or split the job into several calls")
    if args.output is not None:
        args.output = cli.check_output(args.output)
    return args


def read_prompts(path: str) -> list[str]:
    """The seeds of --prompts: the non-blank lines of a UTF-8 file (or of standard input for -)."""
    from pathlib import Path

    from patentgen.errors import UserError

    if path == "-":
        text = cli.read_stdin("the --prompts lines")
    else:
        source = Path(path)
        if not source.is_file():
            raise UserError(f"--prompts {path} {'is a folder' if source.is_dir() else 'not found'}; pass a text file with one seed a line")
        data = source.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise UserError(f"--prompts {path} is not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
                            "convert it, e.g. `iconv -f latin1 -t utf-8`") from None
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise UserError(f"--prompts {path} has no line of text; put one seed a line")
    return prompts


def random_seed_words(run, args, rng) -> tuple[list[str], list[str]]:
    """(first 50 words, the next ``args.words`` words) of a random test-split abstract, read
    without preparing the whole corpus when the prepared-corpus cache does not hold it yet."""
    from patentgen import runs
    from patentgen.errors import UserError

    window = run.config["window"]
    docs = runs.split_tokens(run, "test", data=args.data, build=False)
    candidates = [tokens for tokens in docs if len(tokens) > window]
    if not candidates:
        raise UserError(f"no test abstract is longer than {window} words; pass another --data")
    tokens = candidates[int(rng.integers(len(candidates)))]
    return tokens[:window], tokens[window : window + args.words]


# ----- scoring -------------------------------------------------------------------------------
def scored_json(run, result) -> dict:
    """A Score as JSON, each word flagged ``oov`` when it is not in the vocabulary."""
    data = result.to_json()
    for entry in data["words"]:
        entry["oov"] = run.tokenizer.is_oov(entry["word"])
    data["oov"] = sum(entry["oov"] for entry in data["words"])
    return data


def score(run, args) -> str:
    from patentgen import generation
    from patentgen.errors import UserError

    if not run.tokenizer.text_to_tokens(args.score):
        raise UserError(f"nothing to score: {args.score!r} has no words; pass the text, e.g. --score \"a neural network is trained\"")
    result = generation.score_text(run, args.score)
    if args.json:
        return json.dumps(scored_json(run, result), indent=2)
    oov = [run.tokenizer.is_oov(word) for word in result.words]
    lines = [f"{word:20s} {logprob:9.3f}" + ("  OOV" if out else "") for word, logprob, out in zip(result.words, result.logprobs, oov)]
    marked = f" ({sum(oov)} out of the vocabulary, marked OOV)" if any(oov) else ""
    return "\n".join([*lines, f"total log-probability {result.total:.3f} nats over {len(result.words)} words{marked}, "
                              f"perplexity {result.perplexity:.2f}"])


def score_line(run, line: str, json_out: bool):
    """One line of ``--score -``: (its output line, the Score or None for a line with no words)."""
    from patentgen import corpus, generation, sampling

    if not [t for t in run.tokenizer.text_to_tokens(line) if t not in corpus.SENTENCE_MARKERS]:
        empty = sampling.Score([], [])
        return (json.dumps(scored_json(run, empty)) if json_out else "Total: 0.000\tOOV: 0\tPerplexity: -"), None
    result = generation.score_text(run, line)
    if json_out:
        return json.dumps(scored_json(run, result)), result
    fields = [f"{w}={p:.3f}" + (" OOV" if run.tokenizer.is_oov(w) else "") for w, p in zip(result.words, result.logprobs)]
    oov = sum(run.tokenizer.is_oov(w) for w in result.words)
    return "\t".join([*fields, f"Total: {result.total:.3f}", f"OOV: {oov}", f"Perplexity: {result.perplexity:.2f}"]), result


def score_lines(run, args, emit) -> str:
    """``--score -``: each line of standard input scored as a text of its own, its line handed
    to ``emit`` at once (as KenLM's query does); returns the summary over all lines."""
    import math

    from patentgen.errors import UserError

    if sys.stdin is None:
        raise UserError("--score -: there is no standard input to read; pass the text itself")
    if sys.stdin.isatty():
        print("scoring each line of standard input; end with Ctrl-D", file=sys.stderr, flush=True)
    lines = words = oov = 0
    logprobs, oov_logprobs = 0.0, 0.0
    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise UserError(f"line {number} of standard input is not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start}); "
                            "convert it, e.g. `iconv -f latin1 -t utf-8`") from None
        text, result = score_line(run, cli.check_utf8(line.rstrip("\r\n"), f"line {number} of standard input"), args.json)
        emit(text)
        lines += 1
        if result is not None:
            out = [p for w, p in zip(result.words, result.logprobs) if run.tokenizer.is_oov(w)]
            words, oov = words + len(result.words), oov + len(out)
            logprobs, oov_logprobs = logprobs + result.total, oov_logprobs + sum(out)
    if not words:
        return f"scored {lines} line{'s' if lines != 1 else ''}: no words"
    ppl = math.exp(-logprobs / words) if -logprobs / words < 709 else math.inf
    without = f", {math.exp(-(logprobs - oov_logprobs) / (words - oov)):.2f} without them" if 0 < oov < words else ""
    including = " including the out-of-vocabulary words" if oov else ""
    return (f"scored {lines} line{'s' if lines != 1 else ''}: {words} words, {oov} out of the vocabulary; "
            f"perplexity {ppl:.2f}{including}{without}")


def neighbors(run, args) -> str:
    from patentgen import generation

    found = generation.neighbours(run, args.neighbors)
    return json.dumps(found) if args.json else "\n".join(f"{w:20s} {s:.3f}" for w, s in found)


# ----- generating ----------------------------------------------------------------------------
def sampler_from(args, temperature=None):
    from patentgen import sampling

    return sampling.from_description(cli.sampler_description(args, DEFAULT_SAMPLER) if temperature is None else
                                     cli.sampler_description(argparse.Namespace(**{**vars(args), "diversity": temperature}), DEFAULT_SAMPLER))


def sentences(run, args, rng) -> str:
    from patentgen import generation
    from patentgen.tokenizer import detokenize

    sampler = sampler_from(args)
    texts = [detokenize(generation.sentence(run, rng, sampler, args.min_length), capitalize=True) for _ in range(args.sentences)]
    if args.json:
        return json.dumps({"model": str(run.path), "sampler": sampler.description(), "random_seed": args.random_seed, "sentences": texts}, indent=2)
    return "\n".join(texts)


@dataclass(frozen=True)
class Job:
    """One text to write: which seed, at which diversity (sampler), which sample of them."""

    prompt: int  # 0-based index into args.seeds
    temperature: float | None  # one of args.temperatures (None: the default sampler's)
    sampler: object
    sample: int  # 1-based


def jobs(args) -> list[Job]:
    """Every text of the call, in the order they are drawn: seed by seed, diversity by diversity."""
    samplers = [(t, sampler_from(args, t)) for t in args.temperatures]
    prompts = 1 if args.mode == "random" else len(args.seeds)
    return [Job(p, t, s, n) for p in range(prompts) for t, s in samplers for n in range(1, args.samples + 1)]


def label(args, job: Job, number: int) -> str:
    """What goes before a text: "" for a single one, "[2] " for samples, "[prompt 2, diversity
    0.5, sample 1] " when there are several seeds or diversities; ``model 3 (...): ...`` for --random."""
    if args.mode == "random":
        return f"model {number} ({job.sampler}): ..."
    parts = [f"prompt {job.prompt + 1}"] if len(args.seeds) > 1 else []
    parts += [f"diversity {job.temperature:g}"] if len(args.temperatures) > 1 else []
    if args.samples > 1:
        parts.append(f"sample {job.sample}" if parts else str(job.sample))
    return f"[{', '.join(parts)}] " if parts else ""


class Progress:
    """Texts done out of the total, on stderr: once the job looks longer than PROGRESS_AFTER_S,
    a line rewritten in place on a terminal (else one at each quarter), with the time left."""

    def __init__(self, total: int):
        self.total, self.start, self.shown, self.announced = total, time.perf_counter(), 0, False
        self.inline = sys.stderr.isatty()

    def __call__(self, done: int) -> None:
        elapsed = time.perf_counter() - self.start
        left = elapsed / done * (self.total - done)
        if not self.announced:
            if elapsed + left < PROGRESS_AFTER_S or done == self.total:
                return
            self.announced = True
            print(f"generating {self.total:,} texts: about {elapsed + left:.0f} s; Ctrl-C stops", file=sys.stderr, flush=True)
        quarter = 4 * done // self.total
        if self.inline:
            end = "\n" if done == self.total else ""
            print(f"\rgenerated {done:,} of {self.total:,} texts in {elapsed:.0f} s, about {left:.0f} s left   ",
                  end=end, file=sys.stderr, flush=True)
        elif quarter > self.shown:
            print(f"generated {done:,} of {self.total:,} texts in {elapsed:.0f} s, about {left:.0f} s left", file=sys.stderr, flush=True)
        self.shown = max(self.shown, quarter)


def continuations(run, args, rng, stream: bool) -> tuple[str, list[str]]:
    """The text for --seed, --prompts (or no mode) and --random, and the seeds' unknown words;
    with ``stream``, each text is written to stdout word by word as it is drawn (the returned
    text is then what was shown)."""
    from patentgen import generation
    from patentgen.tokenizer import Detokenizer, detokenize, ends_sentence

    human = None
    if args.mode == "random":
        seed, human = random_seed_words(run, args, rng)
        seeds = [seed]
    else:
        seeds = args.seeds
    stops = generation.stop_ids(run, args.stop or [])
    shown: list[str] = []

    def show(piece: str) -> None:
        shown.append(piece)
        if stream:
            sys.stdout.write(piece)
            sys.stdout.flush()

    if human is not None:
        first = generation.seed_ids(run, seeds[0])[0]
        show(f"seed: {detokenize(first, capitalize=True)}\n\n")
        show(f"human: ...{detokenize(human, capitalize=True, sentence_start=ends_sentence(first))}")
    todo = jobs(args)
    progress = Progress(len(todo)) if not stream else None
    results = []
    for number, job in enumerate(todo, 1):
        seed_words = generation.seed_ids(run, seeds[job.prompt])[0]
        show(("\n\n" if shown else "") + label(args, job, number))
        if args.mode == "random":  # the continuation alone, as the human one
            joiner = Detokenizer(capitalize=True, sentence_start=ends_sentence(seed_words))
        else:
            joiner = Detokenizer(capitalize=True)
            show("".join(joiner.add(word) for word in seed_words))
        result = generation.continue_text(run, seeds[job.prompt], args.words, rng, job.sampler, stops,
                                          on_word=lambda word: show(joiner.add(word)))
        results.append((job, result))
        if progress:
            progress(number)
    if stream:
        show("\n")
    unknown = list(dict.fromkeys(word for _, r in results for word in r.unknown))
    if not args.json:
        return "".join(shown).rstrip("\n"), unknown
    return json.dumps(as_json(run, args, results, human, stops), indent=2), unknown


def as_json(run, args, results, human, stops: list[int]) -> dict:
    """One seed at one diversity: the seed, settings, unknown words and the samples; several
    seeds or diversities: a list of those as ``results``."""
    from patentgen.tokenizer import detokenize, ends_sentence

    def sample(r) -> dict:
        stopped = {"stopped": bool(r.ids) and r.ids[-1] in stops} if stops else {}  # ended by a --stop word
        return {"text": r.text(), "continuation": r.text(with_seed=False), **stopped}

    groups: dict = {}
    for job, r in results:
        groups.setdefault((job.prompt, job.temperature), (job, []))[1].append(r)
    entries = [{"seed": detokenize(rs[0].seed_words, capitalize=True), "sampler": job.sampler.description(),
                "unknown": rs[0].unknown, "samples": [sample(r) for r in rs]} for job, rs in groups.values()]
    head = {"model": str(run.path), "words": args.words, "random_seed": args.random_seed}
    if human is not None:
        head["human"] = detokenize(human, capitalize=True, sentence_start=ends_sentence(results[0][1].seed_words))
    if len(entries) == 1:
        return {"model": head["model"], "seed": entries[0]["seed"], **{k: v for k, v in head.items() if k != "model"},
                "sampler": entries[0]["sampler"], "unknown": entries[0]["unknown"], "samples": entries[0]["samples"]}
    return {**head, "results": entries}


def main(argv=None) -> int:
    args = parse(argv)
    deps.require("numpy")
    import numpy as np

    import patentgen

    run = patentgen.load(args.model).run  # the Python API's Generator; the run it holds
    stream = args.mode in GENERATING and not args.json and args.output is None and (
        args.stream if args.stream is not None else sys.stdout.isatty())
    unknown: list[str] = []
    if args.mode == "neighbors":
        text = neighbors(run, args)
    elif args.mode == "score" and args.score == "-":
        lines: list[str] = []
        emit = lines.append if args.output is not None else (lambda line: print(line, flush=True))
        summary = score_lines(run, args, emit)
        if args.output is not None:
            cli.write_output(args.output, "".join(line + "\n" for line in lines))
            print(f"wrote {args.output}", file=sys.stderr)
        print(summary, file=sys.stderr)
        return 0
    elif args.mode == "score":
        text = score(run, args)
        unknown = run.tokenizer.unknown_words(args.score)
    else:
        rng = np.random.default_rng(args.random_seed)
        if args.mode == "sentences":
            text = sentences(run, args, rng)
        else:
            text, unknown = continuations(run, args, rng, stream)
    if unknown:
        print(f"warning: not in the vocabulary, read as <unk>: {', '.join(unknown)}", file=sys.stderr)
    if stream:
        return 0
    if args.output is None:
        print(text)
    else:
        cli.write_output(args.output, text + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def entry() -> int:
    """The ``patentgen-generate`` command."""
    return cli.run(main)
