"""The Reddit corpus pipeline (NLTK Punkt trained on the corpus, no download) and the numpy RNN
trained from the command line into a run folder."""

import json

import numpy as np
import pytest

from conftest import run_script
from patentgen import generation, runs
from patentgen.corpus import SENTENCE_END, SENTENCE_START, clean_reddit, reddit_tokens, train_punkt
from patentgen.tokenizer import Tokenizer

SPECIAL = [
    "I joined a new league. It's a slight PPR league- .2 PPR!",
    "&gt;Here's an idea, why not check?\n\nWe already have that. See [the docs](http://example.com/x) or www.foo.org now.",
    '**NOT ENFORCEABLE**. Mr. Smith said "nah, you know what" and left.',
]
_WORDS = "the game team player vote gun law price phone car city music movie book league season week".split()


def _comment(rng):
    sentences = []
    for _ in range(rng.integers(2, 5)):
        words = list(rng.choice(_WORDS, rng.integers(4, 9)))
        sentences.append(" ".join(words).capitalize() + str(rng.choice([".", "!", "?"])))
    return " ".join(sentences)


COMMENTS = SPECIAL + [_comment(np.random.default_rng(i)) for i in range(60)]


def test_clean_reddit_handles_entities_links_urls_and_quotes():
    text = clean_reddit("&gt;quoted line\n**bold** [link text](http://a.b/c) and http://x.y/z &amp;gt; end")
    assert text == "quoted line\nbold link text and > end"


def test_markdown_escapes_are_the_marks_they_escape():
    assert clean_reddit(r"it costs 2\,000 \*not\* 6\.5\/10 at C:\path") == "it costs 2,000 *not* 6.5/10 at C: path"
    tokens = reddit_tokens(r"I paid 2\, and \*you\* did \_not\_.", True, {})
    assert not any("\\" in t for t in tokens) and tokens[3:5] == ["2", ","]


def test_sentences_are_wrapped_and_lowercased_without_downloads():
    state = train_punkt(COMMENTS)
    tokens = reddit_tokens(COMMENTS[1], True, state)
    assert tokens[0] == SENTENCE_START and tokens[-1] == SENTENCE_END
    assert tokens.count(SENTENCE_START) == tokens.count(SENTENCE_END) == 3
    assert "here" in tokens and "'s" in tokens and "http" not in " ".join(tokens)
    assert all(t == t.lower() for t in tokens if t not in (SENTENCE_START, SENTENCE_END))


def test_punkt_state_survives_the_tokenizer_json(tmp_path):
    state = train_punkt(COMMENTS)
    tok = Tokenizer.fit([reddit_tokens(c, True, state) for c in COMMENTS], kind="reddit", state=state)
    tok.save(tmp_path / "t.json")
    again = Tokenizer.load(tmp_path / "t.json")
    assert again.text_to_tokens(COMMENTS[2]) == tok.text_to_tokens(COMMENTS[2])


@pytest.fixture(scope="module")
def reddit_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("reddit") / "comments.csv"
    rows = ["body"] + ['"' + c.replace('"', '""') + '"' for c in COMMENTS * 2]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory, reddit_csv):
    """A numpy-RNN run on the Reddit fixture, trained in seconds: (folder, train.py's result)."""
    out = tmp_path_factory.mktemp("reddit-run") / "rnn"
    result = run_script("train.py", "--corpus", "reddit", "--data", str(reddit_csv), "--arch", "numpy-rnn",
                        "--units", "8", "--epochs", "2", "--window", "10", "--out", str(out))
    return out, result


def test_numpy_rnn_run_folder_and_sentences(rnn_run):
    out, result = rnn_run
    assert result.returncode == 0, result.stderr
    assert (out / "learning_curve.png").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "numpy-rnn" and config["max_vocab"] == 8000 and config["text_column"] == "body"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["full_context"]["ce"] > 0 and not (out / "model.keras").exists()
    run = runs.load_inference(out)
    words = generation.sentence(run, np.random.default_rng(0), min_length=3)
    assert len(words) >= 3 and "<unk>" not in words and SENTENCE_END not in words
    result = run_script("generate.py", "--model", str(out), "--sentences", "2", "--random-seed", "1")
    assert result.returncode == 0 and len(result.stdout.strip().splitlines()) == 2
    # one word is wrapped in sentence markers by the Reddit cleaning; neighbours must see the word
    found = generation.neighbours(run, "The")
    assert len(found) == 10 and not {"the", SENTENCE_START, SENTENCE_END} & {w for w, _ in found}
    result = run_script("generate.py", "--model", str(out), "--neighbors", "the", "--json")
    assert result.returncode == 0, result.stderr
    assert [w for w, _ in json.loads(result.stdout)] == [w for w, _ in found]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--corpus", "reddit", "--max-vocab", "2"], "too small"),
        (["--corpus", "reddit", "--data", "PATENTS"], "no column 'body'"),
    ],
)
def test_reddit_bad_input(tmp_path, reddit_csv, corpus_csv, args, message):
    args = [str(corpus_csv) if a == "PATENTS" else a for a in args]
    if "--data" not in args:
        args += ["--data", str(reddit_csv)]
    result = run_script("train.py", *args, "--arch", "numpy-rnn", "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_npz_that_disagrees_with_the_tokenizer(tmp_path, reddit_csv):
    out = tmp_path / "rnn"
    assert run_script("train.py", "--corpus", "reddit", "--data", str(reddit_csv), "--arch", "numpy-rnn",
                      "--units", "4", "--epochs", "1", "--window", "10", "--out", str(out)).returncode == 0
    with np.load(out / "weights.npz") as archive:
        parts = dict(archive)
    np.savez(out / "weights.npz", **{**parts, "V": parts["V"][:-1]})
    result = run_script("generate.py", "--model", str(out), "--seed", "hi")
    assert result.returncode == 2 and "shapes disagree" in result.stderr


def test_a_seed_s_last_sentence_stays_open_and_its_continuation_is_not_capitalised(rnn_run):
    run = runs.load_inference(rnn_run[0])
    words, ids = generation.seed_ids(run, "The game team")
    assert words == [SENTENCE_START, "the", "game", "team"] and ids[-1] == run.tokenizer.index["team"]
    checked = 0
    for seed in range(20):
        cont = generation.continue_text(run, "the game team", 6, np.random.default_rng(seed))
        first = cont.words[0]
        if first not in (SENTENCE_START, SENTENCE_END) and first[:1].isalpha() and first != "i":
            assert cont.text(with_seed=False).startswith(first)  # mid-sentence: as written, not capitalised
            assert cont.text().startswith(f"The game team {first}")
            checked += 1
    assert checked >= 5


def test_scores_leave_the_sentence_markers_out(rnn_run):
    from patentgen import sampling

    run = runs.load_inference(rnn_run[0])
    text = "The game team. The league week!"
    scored = generation.score_text(run, text)
    assert scored.words == ["the", "game", "team", ".", "the", "league", "week", "!"]
    assert not any(run.tokenizer.is_oov(w) for w in scored.words)
    tokens = run.tokenizer.text_to_tokens(text)
    ids = run.tokenizer.document_ids(tokens)
    every = sampling.score(run.lm.next_logits, ids[:1], ids[1:], tokens, None, run.caches.mix if run.caches else None,
                           run.config["window"])
    assert scored.logprobs == pytest.approx([p for w, p in zip(tokens, every.logprobs) if w not in (SENTENCE_START, SENTENCE_END)])
    result = run_script("generate.py", "--model", str(rnn_run[0]), "--score", "The game team.")
    assert result.returncode == 0 and SENTENCE_START not in result.stdout and "over 4 words" in result.stdout
