#!/usr/bin/env python3
"""Serve the guessing game and the generator in the browser (FastAPI + uvicorn).

Runs patentgen/commands/serve.py from the checkout (``--help`` lists the flags); an installed patentgen has it as ``patentgen-serve``.
"""

import sys

from patentgen.commands.serve import entry

if __name__ == "__main__":
    sys.exit(entry())
