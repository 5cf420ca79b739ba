"""patentgen: a word-level LSTM text generator for patent abstracts and Reddit comments.

Stages, one module each: corpus -> split -> tokenizer -> windows -> embeddings -> model ->
training -> inference/sampling -> evaluate; ``runs`` owns the run folder on disk, ``commands``
the command-line programs, ``generator`` the Python API:

    import patentgen
    print(patentgen.load().generate("a method for", words=30))

Importing the package imports no third-party module (the commands check for them first).
"""

__version__ = "0.1.0"


def load(path=None):
    """A ``patentgen.generator.Generator`` for the run folder at ``path`` (default: the shipped
    model): ``.generate(seed, words=50, diversity=None, samples=1, random_seed=None)``,
    ``.score(text)``, ``.neighbours(word)``. Needs numpy only."""
    from .generator import Generator

    return Generator.load(path)
