import numpy as np
import pytest

from patentgen.embeddings import glove_matrix
from patentgen.errors import UserError
from patentgen.tokenizer import Tokenizer


def _tok(words):
    return Tokenizer.fit([words])


def test_stanford_file_rows_coverage_and_random_rest(glove_txt):
    tok = _tok(["neural", "network", "neural-network", "zzzunknown", "."])
    matrix, coverage = glove_matrix(tok, str(glove_txt), seed=0)
    assert matrix.shape == (len(tok), 6)
    rows = {line.split()[0]: np.array(line.split()[1:], float) for line in glove_txt.read_text().splitlines()}
    assert np.allclose(matrix[tok.index["neural"]], rows["neural"], atol=1e-4)
    assert np.allclose(matrix[tok.index["neural-network"]], (rows["neural"] + rows["network"]) / 2, atol=1e-4)
    assert not np.any(matrix[0]) and np.any(matrix[2]) and np.any(matrix[tok.index["zzzunknown"]])  # <pad> zero, unknown small random
    assert np.abs(matrix[tok.index["zzzunknown"]]).max() < 3
    assert (coverage.words, coverage.found, coverage.from_parts) == (5, 3, 1)


def test_package_vectors_are_glove_6b_50d():
    tok = _tok(["the", "network", "qqqxqqq"])
    matrix, coverage = glove_matrix(tok)
    assert matrix.shape == (6, 50) and coverage.found == 2
    assert np.allclose(matrix[tok.index["the"], :3], [0.418, 0.24968, -0.41242])


@pytest.mark.parametrize(
    "content, message",
    [
        ("a 0.1 0.2\nb 0.1\n", "1 values where earlier rows have 2"),
        ("a 0.1 zz\n", "not a number"),
        ("", "empty"),
        ("justaword\n", "expected 'word v1 v2"),
    ],
)
def test_malformed_glove_files(tmp_path, content, message):
    path = tmp_path / "g.txt"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        glove_matrix(_tok(["a", "b"]), str(path))
