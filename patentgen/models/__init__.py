"""The architecture registry: ``--arch`` name -> the module that owns that architecture.

Adding an architecture is one module beside these (see ``base.Architecture`` for what it owns),
one line in ``_MODULES`` and its tests. Importing this package imports no third-party module
(train.py reads the registry before it checks which packages a run needs): numpy and Keras are
imported by the methods that use them.
"""

from __future__ import annotations

from ..errors import UserError
from . import classic, gru, lstm, numpy_rnn
from .base import MODEL_SETTINGS, Architecture

_MODULES = (lstm, classic, gru, numpy_rnn)
REGISTRY: dict[str, Architecture] = {m.ARCHITECTURE.name: m.ARCHITECTURE for m in _MODULES}
NAMES = tuple(REGISTRY)


def get(name: str) -> Architecture:
    """The architecture called ``name``; a UserError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown architecture {name!r}; this version knows {', '.join(NAMES)}") from None


def build_model(vocab_size: int, arch: str = "lstm", *args, **kwargs):
    """The Keras model of architecture ``arch`` (``Architecture.build``'s arguments)."""
    return get(arch).build(vocab_size, *args, **kwargs)


__all__ = ["MODEL_SETTINGS", "NAMES", "REGISTRY", "Architecture", "build_model", "get"]
