#!/usr/bin/env python3
"""Print a run's next-word metrics: on its test (or validation) split, or on every document of a corpus file.

Runs patentgen/commands/evaluate.py from the checkout (``--help`` lists the flags); an installed patentgen has it as ``patentgen-evaluate``.
"""

import sys

from patentgen.commands.evaluate import entry

if __name__ == "__main__":
    sys.exit(entry())
