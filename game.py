#!/usr/bin/env python3
"""Guess which continuation a human wrote: the guessing game in the terminal.

Runs patentgen/commands/game.py from the checkout (``--help`` lists the flags); an installed patentgen has it as ``patentgen-game``.
"""

import sys

from patentgen.commands.game import entry

if __name__ == "__main__":
    sys.exit(entry())
