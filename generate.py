#!/usr/bin/env python3
"""Continue a seed with a trained model, score a text, or list a word's neighbours.

Runs patentgen/commands/generate.py from the checkout (``--help`` lists the flags); an installed patentgen has it as ``patentgen-generate``.
"""

import sys

from patentgen.commands.generate import entry

if __name__ == "__main__":
    sys.exit(entry())
