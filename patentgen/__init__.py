"""patentgen: a word-level LSTM text generator for patent abstracts and Reddit comments.

Stages, one module each: corpus -> split -> tokenizer -> windows -> embeddings -> model ->
training -> inference/sampling -> evaluate; ``runs`` owns the run folder on disk, ``commands``
the command-line programs, ``generator`` the Python API:

    import patentgen
    print(patentgen.load().generate("a method for", words=30))
    run = patentgen.train(data="my.csv", max_minutes=5)     # a Generator for the new run

Importing the package imports no third-party module (the commands check for them first).
"""

from .version import __version__


def load(path=None):
    """A ``patentgen.generator.Generator`` for the run folder at ``path`` (default: the shipped
    model): ``.generate(seed, words=50, diversity=None, samples=1, random_seed=None)``,
    ``.score(text)``, ``.neighbours(word)``. Needs numpy only."""
    from .generator import Generator

    return Generator.load(path)


def train(verbose: bool = False, **settings):
    """Train a model with train.py's settings as keyword arguments (``data="my.csv"``,
    ``embeddings="glove"``, ``arch="gru"``, ``max_minutes=5``, ``out="models/mine"``,
    ``overwrite=True``, ...) and return a ``Generator`` for the new run folder. Bad settings raise
    ``patentgen.errors.UserError``; ``verbose=True`` shows train.py's progress (one line per
    epoch unless ``quiet=False``). Needs the training packages (``bash setup.sh``)."""
    from .errors import UserError
    from .generator import Generator
    from .trainer import Printer, configure, given_settings, python_words, train as run_training

    quiet = settings.pop("quiet", True)
    try:
        cfg, out, options = configure(given_settings(settings))
        run = run_training(cfg, out, options, Printer(quiet) if verbose else None)
    except UserError as e:  # the checks name train.py's flags; here the keywords are the names
        raise UserError(python_words(str(e))) from None
    return Generator(run) if run is not None else None  # None: a worker other than the chief of a multi-worker run
