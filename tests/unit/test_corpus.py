import gzip
import zipfile

import pytest

from patentgen.corpus import (
    Rows, clean_patent, clean_reddit, file_checksum, iter_texts, patent_tokens, read_texts, split_words, strip_controls)
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


def test_csv_reads_the_same_documents_as_the_whole_file_reader(tmp_path):
    # What read_texts gave before it streamed: BOM, CRLF, doubled quotes, a quoted newline, an empty row.
    path = tmp_path / "a.csv"
    path.write_bytes(b'\xef\xbb\xbfpatent_abstract,patent_number\r\n""" A """"B"""" net ""\r\n",1\r\n'
                     b',2\r\n  padded , 3\r\n"x,\r\ny",4\r\n')
    assert read_texts(path) == ['" A ""B"" net "', "padded", "x,\r\ny"]
    lines = tmp_path / "a.txt"
    lines.write_text("one\r\ntwo\x85three\u2028four\n\n", encoding="utf-8")
    assert read_texts(lines) == ["one", "two", "three", "four"]


def test_tsv_and_gzipped_files(tmp_path):
    rows = "patent_id\tpatent_abstract\n101\tA net, with commas.\n102\t\"Quoted\ttab\"\n"
    (tmp_path / "g.tsv").write_text(rows, encoding="utf-8")
    with gzip.open(tmp_path / "g.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write(rows)
    with gzip.open(tmp_path / "d.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("first doc\nsecond doc\n")
    expected = ["A net, with commas.", "Quoted\ttab"]
    assert read_texts(tmp_path / "g.tsv") == read_texts(tmp_path / "g.tsv.gz") == expected
    assert read_texts(tmp_path / "d.txt.gz") == ["first doc", "second doc"]


def test_a_patentsview_zip_is_read_member_by_member(tmp_path):
    path = tmp_path / "g_patent_abstract.tsv.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:  # quoted as PatentsView writes it
        archive.writestr("g_patent_abstract.tsv", '"patent_id"\t"patent_abstract"\n"101"\t"A ""net""\tfor\nall."\n')
        archive.writestr("__MACOSX/._g_patent_abstract.tsv", b"\x00\x05\x16\x07 resource fork")
        archive.writestr("more/b.txt", "a line\n")
    assert read_texts(path) == ['A "net"\tfor\nall.', "a line"]
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UserError, match="cannot be read"):
        read_texts(tmp_path / "broken.zip")


def test_a_folder_is_read_file_by_file_in_name_order(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "b.txt").write_text("from b\n", encoding="utf-8")
    (folder / "a.csv").write_text("body\nfrom a\n", encoding="utf-8")
    with gzip.open(folder / "c.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write("patent_id\tpatent_abstract\n1\tfrom c\n")
    (folder / "README.md").write_text("not a corpus file\n", encoding="utf-8")
    assert read_texts(folder) == ["from a", "from b", "from c"]
    before = file_checksum(folder)
    assert file_checksum(folder) == before and len(before) == 64
    (folder / "README.md").write_text("changed\n", encoding="utf-8")  # not read, not counted
    assert file_checksum(folder) == before
    (folder / "b.txt").write_text("from b, edited\n", encoding="utf-8")
    assert file_checksum(folder) != before
    (folder / "b.txt").rename(folder / "d.txt")  # the order changes the corpus
    assert read_texts(folder)[-1] == "from b, edited" and file_checksum(folder) != before


def test_a_folder_without_corpus_files_says_so(tmp_path):
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(UserError, match="is a folder with no corpus file in it"):
        read_texts(tmp_path)


def test_bad_rows_are_counted_and_reported_in_one_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('patent_abstract,id\n"good one",1\n"broken "quote" here,2\ngood two,3\n,4\nNULL,5\n'
                    'x\0y,6\nx,y,z\n"never closed,7\nlost,8\n', encoding="utf-8")
    rows = Rows()
    assert list(iter_texts(path, None, rows)) == ["good one", "good two"]
    assert rows.kept == 2 and rows.skipped == {"malformed": 3, "empty": 1, "not text": 2}
    reported = []
    assert read_texts(path, report=reported.append) == ["good one", "good two"]
    assert reported == [f"{path}: skipped 6 bad rows of 8 (1 empty, 3 malformed over 4 lines, 2 not text)"]


def test_only_bad_rows_is_an_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("patent_abstract,id\n,1\n  ,2\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"holds no usable document \(2 bad rows of 2 \(2 empty\)\)"):
        read_texts(path)


def test_rows_stream_from_disk(tmp_path):
    path = tmp_path / "a.txt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"first\n" + b"x" * (1 << 20) + b"\n\xff broken utf-8\n")
    texts = iter_texts(path)
    assert next(texts) == "first"  # before the bad byte a megabyte later is decoded
    with pytest.raises(UserError, match="not UTF-8"):
        list(texts)
