"""generate.py end to end on a tiny trained run: output, repeatability, scoring, bad input."""

import json
import shutil

import numpy as np
import pytest

from conftest import run_script
from patentgen import generation, runs, sampling
from patentgen.config import DEFAULT_SAMPLER
from patentgen.inference import log_softmax
from patentgen.tokenizer import BOS_ID, PAD_ID, RESERVED, UNK_ID, detokenize


def gen(model, *args):
    return run_script("generate.py", "--model", str(model), *args)


def test_generates_the_requested_words_without_reserved_tokens(tiny_run):
    model, _ = tiny_run
    result = gen(model, "--seed", "a neural network", "--words", "40", "--diversity", "1.5", "--random-seed", "1")
    assert result.returncode == 0, result.stderr
    text = result.stdout.strip()
    assert text.startswith("A neural network")
    assert not any(tok in text for tok in RESERVED)
    run = runs.load_inference(model)
    sampler = sampling.from_description(sampling.with_defaults({"temperature": 1.5}, sampling.DEFAULT))
    cont = generation.continue_text(run, "a neural network", 40, np.random.default_rng(1), sampler)
    assert len(cont.ids) == 40 and cont.text() == text


def test_same_random_seed_same_text_and_samples(tiny_run):
    model, _ = tiny_run
    args = ("--seed", "the processor", "--random-seed", "5", "--samples", "2", "--words", "12")
    first, second = gen(model, *args), gen(model, *args)
    assert first.returncode == 0 and first.stdout == second.stdout
    assert "[1]" in first.stdout and "[2]" in first.stdout


def test_unknown_seed_words_warn_and_empty_seed_starts_an_abstract(tiny_run):
    model, _ = tiny_run
    result = gen(model, "--seed", "a quantum banana", "--words", "5", "--random-seed", "0")
    assert result.returncode == 0 and "not in the vocabulary, read as <unk>: quantum, banana" in result.stderr
    result = gen(model, "--words", "5", "--diversity", "0", "--phrase-cache", "0", "--word-cache", "0", "--no-stutter", "0",
                 "--no-repeat-ngram", "0", "--json")  # every rule of the default sampler off
    assert result.returncode == 0, result.stderr
    # greedy from <s> alone, re-running the whole prefix each step: the oracle for "an empty seed starts an abstract"
    run = runs.load_inference(model)
    ids = [BOS_ID]
    for _ in range(5):
        logits, _ = run.lm.next_logits(ids)
        logits[[PAD_ID, BOS_ID, UNK_ID]] = -np.inf
        ids.append(int(np.argmax(logits)))
    assert json.loads(result.stdout)["samples"][0]["continuation"].lower() == detokenize(run.tokenizer.vocab[i] for i in ids[1:]).lower()


def test_random_shows_the_human_continuation(tiny_run, corpus_csv):
    model, _ = tiny_run
    result = gen(model, "--random", "--data", str(corpus_csv), "--words", "8", "--random-seed", "2")
    assert result.returncode == 0, result.stderr
    assert "seed:" in result.stdout and "human:" in result.stdout and "model 1" in result.stdout


def test_score_and_neighbors(tiny_run):
    model, _ = tiny_run
    result = gen(model, "--score", "a neural network stores the quantum error signal.", "--json")
    assert result.returncode == 0, result.stderr
    scored = json.loads(result.stdout)
    assert [w["word"] for w in scored["words"]][:3] == ["a", "neural", "network"]
    # the oracle: each word's log-probability from the whole prefix re-run, <unk> words plus their spelling
    run = runs.load_inference(model)
    tokens = run.tokenizer.text_to_tokens("a neural network stores the quantum error signal.")
    ids, spelling = run.tokenizer.document_ids(tokens), run.tokenizer.spelling_logprobs(tokens)
    expected = [log_softmax(run.lm.next_logits(ids[: i + 1])[0])[ids[i + 1]] + spelling[i + 1] for i in range(len(tokens))]
    assert [w["logprob"] for w in scored["words"]] == pytest.approx(expected, abs=1e-4)
    assert scored["total_logprob"] == pytest.approx(sum(expected), abs=1e-3)
    result = gen(model, "--neighbors", "processor", "--json")
    found = json.loads(result.stdout)
    assert result.returncode == 0 and len(found) == 10 and "processor" not in [w for w, _ in found]
    assert found == sorted(found, key=lambda x: -x[1])


def test_sampler_flags_build_the_sampler_they_describe(tiny_run):
    model, _ = tiny_run
    args = ["--seed", "a neural network", "--words", "15", "--random-seed", "2", "--json", "--diversity", "1.3",
            "--min-p", "0.02", "--no-repeat-ngram", "2", "--phrase-cache", "0.2"]
    result = gen(model, *args)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sampler"] == {**{k: v for k, v in DEFAULT_SAMPLER.items() if k not in ("top_k", "top_p", "min_p", "typical_p")},
                               "temperature": 1.3, "min_p": 0.02, "no_repeat_ngram": 2, "phrase_cache": 0.2}
    words = data["samples"][0]["continuation"].lower().replace(".", " .").replace(",", " ,").split()
    assert len(list(zip(words, words[1:]))) == len(set(zip(words, words[1:])))
    plain = json.loads(gen(model, "--seed", "a neural network", "--words", "5", "--json").stdout)
    assert plain["sampler"] == DEFAULT_SAMPLER


@pytest.mark.parametrize(
    "args, message",
    [
        (["--diversity", "-1"], "argument --diversity: must be a number from 0 to 5 (0 is greedy), not '-1'"),
        (["--diversity", "nan"], "--diversity: must be a number from 0 to 5"),
        (["--diversity", "warm"], "--diversity: must be a number from 0 to 5 (0 is greedy), not 'warm'"),
        (["--words", "0"], "must be at least 1"),
        (["--words", "20000"], "more than 10,000 words"),
        (["--top-k", "0"], "--top-k: must be a whole number from 1 to 1,000,000"),
        (["--top-k", str(2**1024 - 1)], "--top-k: must be a whole number from 1 to 1,000,000"),
        (["--top-p", "0"], "must be in (0, 1]"),
        (["--top-p", "1.5"], "must be in (0, 1]"),
        (["--top-k", "5", "--top-p", "0.9"], "not allowed with argument --top-k"),
        (["--min-p", "0.1", "--full"], "not allowed with argument --min-p"),
        (["--repetition-penalty", "0.9"], "must be a finite number >= 1 (1 is none)"),
        (["--repetition-penalty", "nan"], "must be a finite number"),
        (["--no-repeat-ngram", "-1"], "--no-repeat-ngram: must be a whole number from 0 to 1,000"),
        (["--phrase-cache", "1"], "must be in [0, 1)"),
        (["--word-cache", "-0.1"], "--word-cache: must be in [0, 1)"),
        (["--typical-p", "2"], "must be in (0, 1]"),
        (["--neighbors", "zzzz"], "not in the model's vocabulary"),
    ],
)
def test_bad_flags(tiny_run, args, message):
    model, _ = tiny_run
    result = gen(model, *args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_missing_corrupt_and_mismatched_model_folders(tiny_run, tmp_path):
    model, _ = tiny_run
    result = gen(tmp_path / "nothing")
    assert result.returncode == 2 and "not found" in result.stderr
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "weights.npz").write_bytes(b"not a zip")
    result = gen(broken)
    assert result.returncode == 2 and "damaged" in result.stderr and "Traceback" not in result.stderr
    mismatched = tmp_path / "mismatched"
    shutil.copytree(model, mismatched)
    tok = json.loads((mismatched / "tokenizer.json").read_text())
    tok["vocab"].append("extra") ; tok["counts"].append(1)
    (mismatched / "tokenizer.json").write_text(json.dumps(tok))
    result = gen(mismatched)
    assert result.returncode == 2 and "does not match its tokenizer" in result.stderr


def test_trained_model_state_carrying_decode_equals_the_full_window(tiny_run):
    """The shipped decode path (numpy, one step per word) against Keras on the saved model.keras."""
    from patentgen.inference import log_softmax

    model, _ = tiny_run
    run = runs.load_inference(model)
    keras_model = runs.load_keras(model)
    _, ids = generation.seed_ids(run, "a neural network stores the error signal and")
    logits, state = run.lm.next_logits(ids[:3])
    for t in range(3, len(ids)):
        full = np.asarray(keras_model(np.asarray([ids[:t]], np.int32), training=False))[0, -1]
        assert np.abs(np.exp(log_softmax(logits)) - np.exp(log_softmax(full))).max() <= 1e-5
        logits, state = run.lm.next_logits([ids[t]], state)


def test_an_empty_score_text_is_refused(tiny_run):
    model, _ = tiny_run
    for text in ("", "   "):
        result = gen(model, "--score", text)
        assert result.returncode == 2 and "nothing to score" in result.stderr and "--score" in result.stderr
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--score", "a network", "--neighbors", "processor"], "argument --neighbors/--neighbours: not allowed with argument --score"),
        (["--random", "--seed", "a method"], "not allowed with argument --random"),
        (["--sentences", "2", "--seed", "a method"], "not allowed with argument --sentences"),
        (["--seed", "", "--score", "a network"], "not allowed with argument --seed"),
        (["--score", "a network", "--words=5"], "--words does nothing with --score; drop it"),
        (["--neighbors", "processor", "--diversity", "0.5", "--random-seed", "1"], "--diversity, --random-seed do nothing with --neighbors"),
        (["--sentences", "2", "--samples", "3"], "--samples does nothing with --sentences"),
        (["--score", "a network", "--phrase-cache", "0.2"], "--phrase-cache does nothing with --score"),
        (["--seed", "a method", "--data", "x.csv"], "--data is only used with --random"),
        (["--random", "--min-length", "3"], "--min-length is only used with --sentences"),
    ],
)
def test_conflicting_modes_and_unused_flags_are_refused(tiny_run, args, message):
    model, _ = tiny_run
    result = gen(model, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


def test_json_for_plain_generation_random_and_the_same_text_as_plain_output(tiny_run, corpus_csv):
    model, _ = tiny_run
    args = ("--seed", "a neural network", "--words", "9", "--samples", "2", "--random-seed", "4")
    plain, as_json = gen(model, *args), gen(model, *args, "--json")
    assert plain.returncode == 0 and as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["seed"] == "A neural network" and data["words"] == 9 and data["random_seed"] == 4
    assert [s["text"] for s in data["samples"]] == [part.strip()[4:] for part in plain.stdout.split("\n\n")]
    assert all(s["text"].endswith(s["continuation"]) for s in data["samples"])
    shown = json.loads(gen(model, "--random", "--data", str(corpus_csv), "--words", "6", "--random-seed", "2", "--json").stdout)
    assert len(shown["human"].split()) >= 5 and len(shown["samples"]) == 1


def test_output_file_holds_what_stdout_would(tiny_run, tmp_path):
    model, _ = tiny_run
    args = ("--seed", "the processor", "--words", "7", "--random-seed", "3")
    out = tmp_path / "gen.txt"
    written = gen(model, *args, "--output", str(out))
    assert written.returncode == 0 and written.stdout == "" and str(out) in written.stderr
    assert out.read_text() == gen(model, *args).stdout
    scored = gen(model, "--score", "a neural network", "--json", "-o", str(tmp_path / "score.json"))
    assert scored.returncode == 0 and json.loads((tmp_path / "score.json").read_text())["words"][0]["word"] == "a"


@pytest.mark.parametrize("where, message", [("missing/x.txt", "does not exist"), (".", "is a folder")])
def test_output_to_a_missing_folder_or_a_folder_is_refused_before_any_work(tiny_run, tmp_path, where, message):
    model, _ = tiny_run
    result = gen(model, "--words", "5", "--output", str(tmp_path / where))
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _gen_bytes(model, *args: bytes, stdin: bytes = b""):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "generate.py", "--model", str(model), *args], cwd=ROOT, input=stdin,
                          capture_output=True, env=env, timeout=120)


def test_seed_from_standard_input(tiny_run):
    model, _ = tiny_run
    piped = _gen_bytes(model, b"--seed", b"-", b"--words", b"6", b"--random-seed", b"2", stdin="a neural network\n".encode())
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode() == gen(model, "--seed", "a neural network", "--words", "6", "--random-seed", "2").stdout
    bad = _gen_bytes(model, b"--seed", b"-", stdin=b"caf\xe9 network")
    assert bad.returncode == 2 and b"not UTF-8 (byte 0xe9 at offset 3)" in bad.stderr and bad.stdout == b""


def test_invalid_bytes_in_a_seed_are_refused_not_glued_to_a_word(tiny_run):
    model, _ = tiny_run
    for flag in (b"--seed", b"--score"):
        result = _gen_bytes(model, flag, b"a neural\xff network")
        assert result.returncode == 2 and result.stdout == b""
        assert b"is not valid UTF-8 (byte 0xff at character 9)" in result.stderr and len(result.stderr.splitlines()) == 1


def test_model_paths_of_the_wrong_kind_say_what_they_are(tiny_run, tmp_path):
    import shlex

    from conftest import ROOT

    model, _ = tiny_run
    result = gen(model / "weights.npz")
    assert result.returncode == 2 and f"is a file; pass the folder that holds it: --model {model}" in result.stderr
    loose = tmp_path / "some.csv"
    loose.write_text("patent_abstract\nx\n")
    result = gen(loose)
    assert result.returncode == 2 and "is a file; pass a folder written by train.py, such as" in result.stderr
    shelf = tmp_path / "runs"
    shutil.copytree(model, shelf / "tiny")
    result = gen(shelf)
    assert result.returncode == 2 and f"is a folder of runs (tiny), not a run; pass one of them: --model {shelf / 'tiny'}" in result.stderr
    missing = gen(tmp_path / "never")
    assert missing.returncode == 2 and "not found; train one with" in missing.stderr
    command = shlex.split(missing.stderr.split("`")[1])  # a command that runs as written, not a bare `python`
    assert command[1:] == ["train.py", "--out", str(tmp_path / "never")] and (ROOT / command[0]).is_file()
    stage = tmp_path / ".half.partial"  # an interrupted training run of tmp_path/half
    (stage / "backup").mkdir(parents=True)
    (stage / "backup" / "state.json").write_text('{"epoch": 3}')
    result = gen(tmp_path / "half")
    assert result.returncode == 2 and "its training was interrupted (3 completed epochs kept in" in result.stderr
    assert f"--out {tmp_path / 'half'} --resume" in result.stderr
    result = gen(stage)
    assert result.returncode == 2 and "is the staging folder of a training run that has not finished, not a model" in result.stderr
    for result in (gen(model / "weights.npz"), gen(tmp_path / "half"), gen(stage)):
        assert len(result.stderr.strip().splitlines()) == 1 and "not found" not in result.stderr


def test_a_truncated_weights_file_says_the_run_is_damaged_and_how_to_recover(tiny_run, tmp_path):
    model, _ = tiny_run
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    data = (model / "weights.npz").read_bytes()
    (broken / "weights.npz").write_bytes(data[: len(data) // 2])
    for result in (gen(broken, "--words", "3"), run_script("evaluate.py", "--model", str(broken))):
        assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert f"the run folder {broken} is damaged: weights.npz cannot be read (BadZipFile" in result.stderr
        assert "copy the folder again" in result.stderr and "--overwrite" in result.stderr


def test_a_negative_random_seed_is_refused_everywhere_and_leaves_no_results_file(tiny_run, corpus_csv, tmp_path):
    import patentgen
    from patentgen.errors import UserError

    model, _ = tiny_run
    db = tmp_path / "results.sqlite3"
    for script in ("generate.py", "game.py", "serve.py"):
        extra = [] if script == "generate.py" else ["--data", str(corpus_csv), "--db", str(db)]
        result = run_script(script, "--model", str(model), *extra, "--random-seed", "-1")
        assert result.returncode == 2 and "-1 is negative; a random seed is a whole number >= 0" in result.stderr, script
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match="random_seed must be a whole number >= 0, not -1"):
        patentgen.load(model).generate("a", random_seed=-1)


def test_neighbors_take_one_word_under_either_spelling(tiny_run):
    model, _ = tiny_run
    result = gen(model, "--neighbors", "neural network")
    assert result.returncode == 2 and "neighbours are listed for one word, and 'neural network' is 2 words" in result.stderr
    assert gen(model, "--neighbours", "processor").stdout == gen(model, "--neighbors", "processor").stdout != ""


def test_random_writes_the_human_text_as_the_model_s_and_builds_no_cache_entry(tiny_run, corpus_csv, tmp_path):
    import re

    model, _ = tiny_run
    args = ("--random", "--data", str(corpus_csv), "--words", "40", "--random-seed", "2", "--samples", "2")
    fresh = {"PATENTGEN_CACHE": str(tmp_path / "cache")}
    first = run_script("generate.py", "--model", str(model), *args, env=fresh)
    assert first.returncode == 0, first.stderr
    assert not (tmp_path / "cache").exists()  # the few test documents were read from the corpus file
    assert first.stdout == gen(model, *args).stdout  # the same abstract as from the session's cache entry
    lines = {line.split(":", 1)[0]: line.split(": ...", 1)[1] for line in first.stdout.split("\n\n")[1:]}
    label = "temperature 1, no-repeat-ngram 4, no-stutter 2, word-cache 0.1, phrase-cache 0.3"  # the default sampler
    assert set(lines) == {"human", f"model 1 ({label})", f"model 2 ({label})"}
    for text in lines.values():  # sentences start with a capital in every option: nothing gives the human away
        assert not re.search(r"[.?] [a-z]", text), text
    assert re.search(r"\. [A-Z]", lines["human"])


def test_a_job_too_big_is_refused_and_a_long_one_shows_its_progress(tiny_run, monkeypatch, capsys):
    from patentgen.commands import generate

    model, _ = tiny_run
    result = gen(model, "--samples", "100000", "--words", "10000")
    assert result.returncode == 2 and "--samples 100,000 x --words 10,000 asks for 1,000,000,000 words; one call writes at most 1,000,000" in result.stderr
    result = run_script("generate.py", "--model", str(model), "--prompts", "-", "--samples", "300", "--words", "2000", stdin="a\nb\n")
    assert result.returncode == 2 and "2 prompts x --samples 300 x --words 2,000 asks for 1,200,000 words" in result.stderr
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr(generate.time, "perf_counter", lambda: float(next(clock)))
    progress = generate.Progress(8)
    for done in range(1, 9):
        progress(done)
    shown = capsys.readouterr().err.splitlines()
    assert shown[0].startswith("generating 8 texts: about 8 s; Ctrl-C stops")
    assert [line.split(" texts")[0] for line in shown[1:]] == ["generated 2 of 8", "generated 4 of 8", "generated 6 of 8", "generated 8 of 8"]
    quick = generate.Progress(8)  # a job shorter than PROGRESS_AFTER_S says nothing
    monkeypatch.setattr(generate.time, "perf_counter", lambda: 0.0)
    for done in range(1, 9):
        quick(done)
    assert capsys.readouterr().err == ""


def test_prompts_from_a_file_several_diversities_and_the_hugging_face_names(tiny_run, tmp_path):
    model, _ = tiny_run
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a neural network\n\nthe processor\n", encoding="utf-8")
    result = gen(model, "--prompts", str(prompts), "--words", "6", "--samples", "2", "--random-seed", "4", "--no-stream")
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.strip().split("\n\n")
    assert [b.split("] ")[0] + "]" for b in blocks] == ["[prompt 1, sample 1]", "[prompt 1, sample 2]", "[prompt 2, sample 1]", "[prompt 2, sample 2]"]
    assert blocks[0].startswith("[prompt 1, sample 1] A neural network") and blocks[2].startswith("[prompt 2, sample 1] The processor")
    single = gen(model, "--seed", "a neural network", "--words", "6", "--samples", "2", "--random-seed", "4")
    assert blocks[:2] == [b.replace("[", "[prompt 1, sample ", 1) for b in single.stdout.strip().split("\n\n")]  # the first draws
    aliases = gen(model, "--seed", "a neural network", "--max-new-tokens", "6", "--num-return-sequences", "2", "--random-seed", "4")
    assert aliases.stdout == single.stdout
    several = gen(model, "--seed", "the processor", "--diversities", "0,1.5", "--words", "6", "--random-seed", "1", "--json")
    data = json.loads(several.stdout)
    assert [r["sampler"]["temperature"] for r in data["results"]] == [0.0, 1.5]
    greedy = json.loads(gen(model, "--seed", "the processor", "--diversity", "0", "--words", "6", "--json").stdout)
    assert data["results"][0]["samples"] == greedy["samples"]
    plain = gen(model, "--seed", "the processor", "--diversities", "0,1.5", "--words", "6", "--random-seed", "1")
    assert plain.stdout.startswith("[diversity 0] The processor") and "\n\n[diversity 1.5] The processor" in plain.stdout
    for bad, message in [(["--diversity", "1", "--diversities", "0.5,1"], "--diversity and --diversities both"),
                         (["--diversities", "0.5,-1"], "must be a finite number >= 0"),
                         (["--prompts", str(tmp_path / "none.txt")], "not found; pass a text file with one seed a line")]:
        result = gen(model, *bad)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    (tmp_path / "blank.txt").write_text("\n  \n")
    assert "has no line of text" in gen(model, "--prompts", str(tmp_path / "blank.txt")).stderr


@pytest.mark.parametrize("args", [("--seed", "a neural network", "--samples", "2"), ("--random", "--samples", "2"),
                                  ("--prompts", "-", "--diversities", "0.5,1")])
def test_streamed_text_is_the_text_written_at_once(tiny_run, corpus_csv, args):
    model, _ = tiny_run
    extra = ["--data", str(corpus_csv)] if "--random" in args else []
    stdin = "the processor\nan input layer\n"
    common = ["generate.py", "--model", str(model), *args, *extra, "--words", "12", "--random-seed", "3"]
    streamed = run_script(*common, "--stream", stdin=stdin)
    whole = run_script(*common, "--no-stream", stdin=stdin)
    assert streamed.returncode == 0 and whole.returncode == 0, streamed.stderr
    assert streamed.stdout == whole.stdout and len(whole.stdout) > 40


def test_stop_words_end_a_text_early(tiny_run):
    from patentgen import generation

    model, _ = tiny_run
    run = runs.load_inference(model)
    stops = generation.stop_ids(run, [".", ";"])
    ended = 0
    for seed in range(10):
        cont = generation.continue_text(run, "the processor", 60, np.random.default_rng(seed), None, stops)
        inside = [i for i in cont.ids[:-1] if i in stops]
        assert not inside and (len(cont.ids) == 60 or cont.ids[-1] in stops)
        ended += len(cont.ids) < 60
    assert ended >= 5
    result = json.loads(gen(model, "--seed", "the processor", "--stop", ".", "--words", "60", "--random-seed", "1", "--json").stdout)
    sample = result["samples"][0]
    assert sample["stopped"] and sample["text"].endswith(".") and sample["text"].count(".") == 1
    for bad, message in [("two words", "a stop word is one word or mark, and 'two words' is 2"), ("qwzxv", "is not in the model's vocabulary")]:
        result = gen(model, "--stop", bad)
        assert result.returncode == 2 and message in result.stderr


def test_score_lines_from_standard_input_one_output_line_each_with_oov_flags(tiny_run):
    model, _ = tiny_run
    lines = ["a neural network stores the weight matrix.", "", "the quorexium computes an output value"]
    result = run_script("generate.py", "--model", str(model), "--score", "-", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert len(out) == 3 and out[1] == "Total: 0.000\tOOV: 0\tPerplexity: -"
    for text, line in zip(lines[::2], out[::2]):
        single = json.loads(gen(model, "--score", text, "--json").stdout)
        fields = line.split("\t")
        assert [f.split("=")[0] for f in fields[:-3]] == [w["word"] for w in single["words"]]
        assert fields[-3] == f"Total: {single['total_logprob']:.3f}" and fields[-2] == f"OOV: {single['oov']}"
    assert "quorexium=" in out[2] and out[2].split("quorexium=")[1].split("\t")[0].endswith(" OOV")
    assert [f.endswith(" OOV") for f in out[0].split("\t")[:-3]] == [False] * 8
    assert "scored 3 lines: 14 words, 1 out of the vocabulary" in result.stderr
    as_json = run_script("generate.py", "--model", str(model), "--score", "-", "--json", stdin=lines[2] + "\n")
    words = json.loads(as_json.stdout)["words"]
    assert [w["oov"] for w in words] == [False, True, False, False, False, False]
    table = gen(model, "--score", lines[2])
    assert "quorexium" in table.stdout and table.stdout.splitlines()[1].endswith("OOV") and "(1 out of the vocabulary" in table.stdout
