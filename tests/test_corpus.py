import pytest

from patentgen.corpus import clean_patent, clean_reddit, patent_tokens, read_texts, split_words, strip_controls
from patentgen.errors import UserError


def test_clean_spaces_punctuation_and_drops_figure_refs():
    text = 'A sensor (12) sends data, via a bus (14a); then stops? Yes.'
    assert clean_patent(text) == "A sensor sends data , via a bus ; then stops ? Yes ."


def test_clean_keeps_decimals_and_normalises_quotes_and_space():
    text = "The \u201cBarometer\u201d   neuron\u2019s value is 1.5 of 10,000 (12, 14)."
    assert clean_patent(text) == "The Barometer neuron's value is 1.5 of 10,000 ."


def test_csv_export_doubled_quotes_disappear():
    assert clean_patent('" A """"Barometer"""" Neuron "') == "A Barometer Neuron"


def test_split_words_lowercases_and_keeps_punctuation_tokens():
    assert split_words("A plot/track system , 'quoted' end .", lower=True) == [
        "a", "plot", "track", "system", ",", "quoted", "end", "."]
    assert split_words("A Net .", lower=False) == ["A", "Net", "."]


def test_patent_tokens_is_clean_then_split():
    assert patent_tokens("Layers (3) learn.") == ["layers", "learn", "."]


def test_read_csv_default_columns_and_explicit(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('id,body\n1,"first, with\nnewline"\n2,\n3,second\n', encoding="utf-8")
    assert read_texts(path) == ["first, with\nnewline", "second"]
    assert read_texts(path, "id") == ["1", "2", "3"]


def test_read_txt_one_document_per_line(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one doc\n\n two doc \n", encoding="utf-8")
    assert read_texts(path) == ["one doc", "two doc"]


@pytest.mark.parametrize(
    "content, column, message",
    [
        (b"title,year\nx,1\n", None, "no text column"),
        (b"body\nx\n", "abstract", "no column 'abstract'"),
        (b"patent_abstract\ncaf\xe9\n", None, "not UTF-8"),
    ],
)
def test_read_errors_say_what_to_do(tmp_path, content, column, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        read_texts(path, column)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found; pass --data"):
        read_texts(tmp_path / "nope.csv")


def test_control_and_bidirectional_characters_are_removed_before_anything_else():
    attack = "a\x00 neural\u202e network\x1b[31m\tfor\x0cx\u2066y\u2069 \u200fz\x85end\x7f"
    assert strip_controls(attack) == "a neural network[31m for xy z end"
    assert strip_controls("line one\nline two") == "line one\nline two"  # newlines are kept (sentence hints)
    assert strip_controls("caf\u00e9 \u4e2d\u6587 \u05e9\u05dc\u05d5\u05dd") == "caf\u00e9 \u4e2d\u6587 \u05e9\u05dc\u05d5\u05dd"  # letters of any script stay
    assert clean_patent("a \u202edevice\x00") == "a device"
    assert clean_reddit("hi\u202e there\x00") == "hi there"
