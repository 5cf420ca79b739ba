"""Pre-training corpus stage: extra text prepared for the target corpus's model.

Owns what happens to the files of ``train.py --pretrain FILE...`` before training sees them:
they are read like any corpus (``corpus.read_texts``), cleaned and tokenised by the target's
text rules (its tokenizer's case and state), and every extra document that the split's own rule
ties to a validation or test document of the target is removed: the extra documents and the
target's held-out documents are grouped together (``split.group_near_duplicates``: more than
half of the shorter one's word 8-grams shared, chains followed), and a group holding a held-out
document loses its extra documents. What is left is encoded with the target's vocabulary (the
vocabulary stays the target's, fitted on its training side; extra words outside it are
``<unk>``), so every figure of the run stays on the target's vocabulary and comparable with a
run without pre-training. Pure: returns values, prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import corpus, split
from .errors import UserError
from .tokenizer import BOS_ID, UNK_ID, Tokenizer
from .windows import Windows


@dataclass(frozen=True)
class Extra:
    """The prepared extra text: its documents as target ids, and what was done to it."""

    docs: list[np.ndarray]  # each (n,) int32, target ids, starting with <s>
    files: tuple[str, ...]
    read: int  # documents read
    removed: int  # near-duplicates of a target validation or test document, left out

    @property
    def tokens(self) -> int:
        return int(sum(len(d) for d in self.docs))

    def unk_share(self) -> float:
        """The share of the kept tokens that are ``<unk>`` under the target's vocabulary."""
        return float(sum(int((d == UNK_ID).sum()) for d in self.docs) / max(self.tokens, 1))

    def summary(self) -> dict:
        return {"files": list(self.files), "documents_read": self.read, "near_duplicates_removed": self.removed,
                "documents": len(self.docs), "tokens": self.tokens, "unk_share": round(self.unk_share(), 4)}


def held_out_duplicates(extra: Sequence[list[str]], held_out: Sequence[list[str]]) -> np.ndarray:
    """(len(extra),) bool: the extra documents in a near-duplicate group with a held-out one
    (grouped together with the held-out documents, chains followed among all of them; a chain
    through a target training document needs no cut: the target split keeps those apart)."""
    groups = np.asarray(split.group_near_duplicates([*held_out, *extra]), np.int64)
    return np.isin(groups[len(held_out):], groups[: len(held_out)])


def prepare(files: Sequence[str], tokenizer: Tokenizer, kind: str, held_out: Sequence[list[str]],
            text_column: str | None = None, report: Callable[[str], None] | None = None) -> Extra:
    """The extra text of ``files`` for a model with ``tokenizer``, without near-duplicates of
    ``held_out`` (the target's validation and test documents, as tokens)."""
    texts = [text for path in files for text in corpus.read_texts(path, text_column, report)]
    docs = [corpus.text_tokens(text, kind, tokenizer.lower, tokenizer.state) for text in texts]
    docs = [doc for doc in docs if doc]
    if not docs:
        raise UserError(f"--pretrain {' '.join(files)}: no text to pre-train on; pass a corpus file with abstracts")
    drop = held_out_duplicates(docs, held_out)
    kept = [np.asarray(tokenizer.document_ids(doc), np.int32) for doc, out in zip(docs, drop) if not out]
    return Extra(kept, tuple(str(f) for f in files), len(docs), int(drop.sum()))


def documents(flat: np.ndarray) -> list[np.ndarray]:
    """A side's concatenated ids cut back into its documents (each starts with ``<s>``)."""
    return np.split(flat, np.flatnonzero(flat == BOS_ID)[1:]) if len(flat) else []


def pretraining_windows(extra: Extra, train: Windows) -> Windows:
    """The windows of the pre-training phase: the extra documents and the target's training side."""
    target = documents(train.flat)
    return Windows.from_docs([*extra.docs, *target], train.window)
