"""patentgen.train() reports a bad setting by its keyword, not by train.py's flag."""

import pytest

from patentgen import trainer


@pytest.mark.parametrize("message, expected", [
    ("argument --learning-rate: 0 must be greater than 0", "setting learning_rate: 0 must be greater than 0"),
    ("argument --dropout: 1.5 must be in [0, 1) (see --help)", "setting dropout: 1.5 must be in [0, 1)"),
    ("--val-share plus --test-share must leave documents for training", "val_share plus test_share must leave documents for training"),
    ("--out x: cannot create folders in /proc; pass an --out in a folder you can write to",
     "out x: cannot create folders in /proc; pass an out in a folder you can write to"),
    ("--overwrite replaces only a run folder", "overwrite replaces only a run folder"),
    ("--no-tie needs --embeddings learned", "tie_embeddings=False needs embeddings learned"),
    ("--not-a-flag stays", "--not-a-flag stays"),
])
def test_flags_become_keywords(message, expected):
    assert trainer.python_words(message) == expected
