"""Train a word-level language model and save it as a run folder.

    .venv/bin/python train.py --embeddings glove          # the default recipe, on the patents corpus
    .venv/bin/python train.py --arch classic --out models/classic

The flags (one per TrainConfig field, from its metadata in patentgen/config.py, where every
default lives, and the options of ``patentgen.trainer.Options``); the training itself is
``patentgen.trainer.train``. The command behind ``train.py`` and ``patentgen-train``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from patentgen import cli, deps, distribute, models, trainer
from patentgen.config import CORPUS_DEFAULTS, TrainConfig, default_data, flag_of
from patentgen.errors import Interrupted, SettingError

GROUPS = ("data", "vocabulary and windows", "model", "training", "evaluation", "devices", "output")


def shown_default(f) -> str:
    """A field's default as --help shows it; per architecture or corpus where it depends on them."""
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
            kwargs["choices"] = trainer.choices(choice) if isinstance(choice, str) else choice
        if f.name == "arch":
            kwargs["help"] += ": " + "; ".join(a.summary for a in models.REGISTRY.values())
        shown = shown_default(f)
        kwargs["help"] += f" (default: {shown})" if shown else ""
        groups[m["group"]].add_argument(flag_of(f), **kwargs)


def parser() -> argparse.ArgumentParser:
    p = cli.Parser(prog=cli.prog("train.py"), description=__doc__.split("\n")[0])
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


def parse(argv=None) -> tuple[TrainConfig, Path, trainer.Options]:
    """The config, run folder and options of ``argv``, checked; a bad setting exits as a bad flag does."""
    return checked(parser(), argv)[:3]


def checked(p: argparse.ArgumentParser, argv=None) -> tuple[TrainConfig, Path, trainer.Options, bool]:
    """``parse``, and whether --quiet was given. Only the flags given go to ``trainer.configure``,
    so that the others take their defaults, by architecture and corpus where they depend on them."""
    a = p.parse_args(argv)
    given = {name: getattr(a, name) for name in cli.given(p, argv) if name != "quiet"}
    try:
        cfg, out, options = trainer.configure(given)
    except SettingError as err:
        p.error(str(err))
    return cfg, out, options, a.quiet


def main(argv=None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines appear at once in logs and pipes
    cfg, out, options, quiet = checked(parser(), argv)
    report = trainer.Printer(quiet)
    try:
        trainer.train(cfg, out, options, report)
    except KeyboardInterrupt:
        from patentgen import resume, runs

        stage = runs.partial_folder(out, distribute.worker_index(cfg.strategy))
        if resume.has_backup(stage):
            raise Interrupted(resume_hint(stage, sys.argv[1:] if argv is None else argv, report.now)) from None
        raise Interrupted(f"stopped while {report.now}; nothing was written, {out} is as it was") from None
    return 0


def resume_hint(stage: Path, args: list[str], doing: str = "training") -> str:
    """Where the interrupted run is kept and the command that continues it."""
    from patentgen import resume

    again = [*args, *([] if "--resume" in args else ["--resume"])]
    what = "during training" if doing == "training" else f"while {doing}"
    after = "; --resume goes straight to what is left" if doing != "training" else ""
    return f"stopped {what}; {resume.describe(stage)} kept in {stage}{after}; continue with: {deps.command('train.py', *again)}"


def entry() -> int:
    """The ``patentgen-train`` command."""
    return cli.run(main)
