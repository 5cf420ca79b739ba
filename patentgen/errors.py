"""The one exception type the scripts turn into a one-line message and exit status 2."""


class UserError(Exception):
    """Bad input from the user: the message says what is wrong and what to do."""
