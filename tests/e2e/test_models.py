"""The architecture registry and train.py's flags generated from TrainConfig: each architecture
reads only its own settings, records the shape it has, and trains, saves and loads through the
same code (GRU end to end as the proof)."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest

from conftest import TINY_TRAIN as TINY
from conftest import run_script, unigram_ce
from patentgen import models
from patentgen.commands import train
from patentgen.config import TrainConfig, flag_of
from patentgen.models.base import MODEL_SETTINGS


def test_every_config_field_has_a_flag_and_the_parser_defaults_are_the_configs():
    dests = set(vars(train.parser().parse_args([])))
    assert {f.name for f in fields(TrainConfig)} <= dests
    cfg, out, _ = train.parse([])
    expected = TrainConfig()
    for f in fields(TrainConfig):
        if f.name != "data":
            assert getattr(cfg, f.name) == getattr(expected, f.name), f.name
    assert out.name == "lstm-glove"


@pytest.mark.parametrize("arch", models.NAMES)
def test_architecture_defaults_apply_unless_given(arch):
    spec = models.get(arch)
    cfg, _, _ = train.parse(["--arch", arch])
    for name, value in spec.defaults.items():
        assert getattr(cfg, name) == value
    cfg, _, _ = train.parse(["--arch", arch, "--learning-rate", "0.0123"])
    assert cfg.learning_rate == 0.0123


def test_a_zero_learning_rate_is_refused_not_replaced(capsys):
    with pytest.raises(SystemExit) as stop:
        train.parse(["--learning-rate", "0"])
    assert stop.value.code == 2 and "--learning-rate: 0 must be greater than 0" in capsys.readouterr().err


def test_a_config_built_in_python_is_checked_as_the_flags_are():
    from patentgen.errors import SettingError

    for values, message in [({"learning_rate": 0}, "--learning-rate: 0 must be greater than 0"),
                            ({"dropout": 1.0}, "--dropout: 1.0 must be in [0, 1)"), ({"units": 2.5}, "--units: 2.5 is not a whole number"),
                            ({"lower": "no"}, "--keep-case: a switch"), ({"split": "random"}, "--split: invalid choice: 'random'"),
                            ({"val_share": 0.5, "test_share": 0.5}, "--val-share plus --test-share must leave documents")]:
        with pytest.raises(SettingError, match=message.replace("[", r"\[").replace(")", r"\)")):
            TrainConfig.of(**values)
    cfg = TrainConfig.of(input_dropout=0, pretrain="extra.csv")
    assert type(cfg.input_dropout) is float and cfg.pretrain == ("extra.csv",)


@pytest.mark.parametrize("argv, settings", [
    ([], {}),
    (["--arch", "classic"], {"arch": "classic"}),
    (["--corpus", "reddit", "--arch", "numpy-rnn", "--units", "20"], {"corpus": "reddit", "arch": "numpy-rnn", "units": 20}),
    (["--keep-case", "--no-tie", "--freeze-embeddings", "--input-dropout", "0", "--pretrain", "a.csv", "b.csv"],
     {"lower": False, "tie_embeddings": False, "freeze_embeddings": True, "input_dropout": 0, "pretrain": ["a.csv", "b.csv"]}),
])
def test_the_python_settings_give_the_config_and_folder_the_flags_give(argv, settings):
    """patentgen.train()'s keyword arguments and train.py's flags reach one trainer.configure."""
    from patentgen import trainer

    cfg, out, options = trainer.configure(trainer.given_settings(settings))
    assert (json.dumps(cfg.to_json()), out, options) == (json.dumps(train.parse(argv)[0].to_json()), *train.parse(argv)[1:])


@pytest.mark.parametrize("arch", ["classic", "numpy-rnn"])
def test_flags_an_architecture_does_not_read_are_refused(arch, capsys):
    spec = models.get(arch)
    unused = [name for name in MODEL_SETTINGS if name not in spec.uses]
    assert unused  # each has some
    flag = {"units": ["--units", "32"], "layers": ["--layers", "2"], "dropout": ["--dropout", "0.1"],
            "tie_embeddings": ["--no-tie"], "embeddings": ["--embeddings", "learned"]}
    for name in unused:
        if name not in flag:
            continue
        with pytest.raises(SystemExit):
            train.parse(["--arch", arch, *flag[name]])
        err = capsys.readouterr().err
        assert f"--arch {arch} does not use {flag_of(name)}" in err and len(err.strip().splitlines()) == 1


def test_classic_records_the_shape_it_has():
    cfg, out, _ = train.parse(["--arch", "classic"])
    assert (cfg.units, cfg.layers, cfg.dropout, cfg.tie_embeddings) == (64, 1, 0.5, False)
    assert out.name == "classic-glove"
    cfg, out, _ = train.parse(["--arch", "numpy-rnn"])
    assert (cfg.embeddings, cfg.embedding_dim, cfg.layers, cfg.tie_embeddings) == ("learned", 100, 1, False)
    assert out.name == "numpy-rnn"


def test_an_unknown_architecture_in_a_run_folder_is_a_one_line_error(tmp_path):
    from patentgen import runs
    from patentgen.errors import UserError

    with pytest.raises(UserError, match="'transformer' model, which this version does not know"):
        runs.architecture_of({"arch": "transformer"}, tmp_path)


def test_a_gru_run_trains_saves_loads_and_generates(tmp_path, corpus_csv, glove_txt):
    out = tmp_path / "gru"
    from conftest import LIGHT_DROPOUT

    result = run_script("train.py", "--arch", "gru", "--data", str(corpus_csv), "--glove-file", str(glove_txt),
                        "--out", str(out), *TINY, *LIGHT_DROPOUT)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "gru" and config["units"] == 8
    with np.load(out / "weights.npz") as weights:
        assert weights["gru_0/bias"].shape == (2, 24)  # reset_after: input and recurrent biases
    metrics = json.loads((out / "metrics.json").read_text())
    assert "all_positions" in metrics["test"] and metrics["test"]["full_context"]["ce"] < unigram_ce(out)
    generated = run_script("generate.py", "--model", str(out), "--seed", "a method for", "--words", "8", "--random-seed", "1")
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.lower().startswith("a method for") and len(generated.stdout.split()) >= 8


def test_the_python_api_trains_and_returns_a_generator(tmp_path, corpus_csv, glove_txt, capsys):
    import patentgen
    from patentgen.errors import UserError

    out = tmp_path / "api"
    with pytest.raises(UserError, match="no setting 'colour'"):
        patentgen.train(data=str(corpus_csv), colour="red")
    with pytest.raises(UserError, match="^setting learning_rate: 0 must be greater than 0$"):
        patentgen.train(data=str(corpus_csv), learning_rate=0)
    gen = patentgen.train(data=str(corpus_csv), glove_file=str(glove_txt), out=str(out), epochs=1, units=8, window=10,
                          batch_size=8, tie_embeddings=False)
    assert capsys.readouterr().out == ""  # quiet unless verbose=True
    assert gen.run.config["tie_embeddings"] is False and gen.run.config["units"] == 8 and gen.path == out
    assert gen.generate("a method for", words=5, random_seed=1).lower().startswith("a method for")
    with pytest.raises(UserError, match="exists"):
        patentgen.train(data=str(corpus_csv), glove_file=str(glove_txt), out=str(out), epochs=1, units=8, window=10)


def test_dropout_is_variational_one_mask_per_window():
    """AWD-LSTM's locked dropout: in training, the same units are dropped at every step of a
    window (on the embeddings and after each layer), different ones in different windows."""
    import keras

    from patentgen import models

    model = models.get("lstm").build(40, 6, None, True, 1, 8, 0.5, True, 0.5)
    for name in ("input_dropout", "dropout_0"):
        probe = keras.Model(model.inputs, model.get_layer(name).output)
        ids = np.full((16, 12), 7, np.int32)  # one word repeated: only a mask can differ between steps
        out = np.asarray(probe(ids, training=True))  # (16, 12, width)
        zeros = out == 0
        if name == "input_dropout":
            assert (zeros == zeros[:, :1]).all()  # the same units dropped at every step of a window
        else:
            assert (zeros[:, 1:] | ~zeros[:, :1]).all()  # units dropped at step 0 are dropped at every step
        assert zeros.any() and not (zeros[:1] == zeros).all()  # something dropped, not the same in every window
