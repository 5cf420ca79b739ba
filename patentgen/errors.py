"""The exception types the scripts turn into a one-line message: UserError (exit status 2) and
Interrupted (Ctrl-C with something worth saying, exit status 130)."""


class UserError(Exception):
    """Bad input from the user: the message says what is wrong and what to do."""


class SettingError(UserError):
    """A training setting out of range or at odds with another: train.py reports it as a bad flag."""


class Interrupted(Exception):
    """Stopped by Ctrl-C; the message says what was kept and how to continue."""
