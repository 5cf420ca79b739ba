"""The command-line programs, one module each: train, generate, game, serve, evaluate.

Each module has ``main(argv=None)``, which parses the arguments and raises ``UserError`` for bad
input, and ``entry()``, the console script (``patentgen-train`` and so on) that runs it with
one-line errors and an exit status. The scripts in the repository root (``train.py``,
``generate.py``, ``game.py``, ``serve.py``, ``evaluate.py``) call the same ``entry``. Nothing here imports a third-party package before the command has checked that it is
installed (``patentgen.deps``).
"""
