import pytest

from patentgen.errors import UserError
from patentgen.tokenizer import PAD_ID, UNK_ID, Tokenizer, detokenize

DOCS = [["b", "a", "c", "."], ["a", "b", "d", ","], ["a", "e"]]


def test_ids_by_count_then_alphabet_with_reserved_first():
    tok = Tokenizer.fit(DOCS)
    assert tok.vocab == ("<pad>", "<unk>", "<s>", "a", "b", ",", ".", "c", "d", "e")
    assert tok.index["<pad>"] == PAD_ID == 0 and tok.index["<unk>"] == UNK_ID == 1 and tok.index["<s>"] == 2
    assert Tokenizer.fit(list(reversed(DOCS))).vocab == tok.vocab


def test_min_count_and_max_vocab_make_unk():
    assert Tokenizer.fit(DOCS, min_count=2).vocab == ("<pad>", "<unk>", "<s>", "a", "b")
    tok = Tokenizer.fit(DOCS, max_vocab=5)
    assert len(tok) == 5 and tok.tokens_to_ids(["a", "zzz", "c"]) == [3, UNK_ID, UNK_ID]


def test_encode_uses_the_corpus_cleaning():
    tok = Tokenizer.fit([["the", "layer", "learns", "."]])
    assert tok.vocab[3:] == (".", "layer", "learns", "the")
    assert tok.encode("The layer (12) learns.") == [6, 4, 5, 3]
    assert tok.encode_document("The layer") == [2, 6, 4]
    assert tok.unknown_words("the brain learns quickly") == ["brain", "quickly"]


def test_save_load_round_trip(tmp_path):
    tok = Tokenizer.fit(DOCS, kind="patents", lower=False)
    tok.save(tmp_path / "t.json")
    again = Tokenizer.load(tmp_path / "t.json")
    assert again == tok and again.index == tok.index and again.lower is False


def test_load_damaged_file(tmp_path):
    (tmp_path / "t.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot read tokenizer"):
        Tokenizer.load(tmp_path / "t.json")


def test_decode_reattaches_punctuation_and_capitalises():
    tok = Tokenizer.fit([["a", "net", ",", "it", "learns", ".", "the", "end", "?"]])
    ids = tok.tokens_to_ids(["a", "net", ",", "it", "learns", ".", "the", "end", "?"])
    assert tok.decode(ids) == "a net, it learns. the end?"
    assert tok.decode([2] + ids + [PAD_ID], for_people=True) == "A net, it learns. The end?"
    assert detokenize(["SENTENCE_START", "hi", "SENTENCE_END"], capitalize=True) == "Hi"
