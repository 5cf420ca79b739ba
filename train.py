#!/usr/bin/env python3
"""Train a word-level language model and save it as a run folder.

Runs patentgen/commands/train.py from the checkout (``--help`` lists the flags); an installed patentgen has it as ``patentgen-train``.
"""

import sys

from patentgen.commands.train import entry

if __name__ == "__main__":
    sys.exit(entry())
