"""tf.distribute on CPU: mirrored over 2 logical CPU devices and multi-worker with two local
processes give the default strategy's losses (the batch size is global); a single device is an
error unless --allow-fallback; mixed precision keeps float32 logits."""

import json
import os
import socket
import subprocess
import sys

import keras
import pytest

from conftest import ROOT, TINY_TRAIN, run_script, unigram_ce
from patentgen.models import build_model

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}})


def start(args: list[str], index: int | None = None, ports: list[int] | None = None, extra: dict | None = None) -> subprocess.Popen:
    env = {**ENV, **(extra or {})} if index is None else {**ENV, **(extra or {}), "TF_CONFIG": tf_config(ports, index)}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def losses(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def default_losses(tmp_path_factory):
    return losses(start(["tests/strategy_steps.py", "default", str(tmp_path_factory.mktemp("default"))]))


def test_mirrored_on_two_logical_cpus_matches_the_default_strategy(default_losses, tmp_path):
    mirrored = losses(start(["tests/strategy_steps.py", "mirrored", str(tmp_path)]))
    assert default_losses["replicas"] == 1 and mirrored["replicas"] == 2
    assert mirrored["losses"] == pytest.approx(default_losses["losses"], abs=1e-5)  # [loss, val_loss] per epoch, flat


def test_multiworker_with_two_local_workers_matches_the_default_strategy(default_losses, tmp_path):
    ports = free_ports(2)
    procs = [start(["tests/strategy_steps.py", "multiworker", str(tmp_path / f"w{i}")], i, ports) for i in (0, 1)]
    results = [losses(p) for p in procs]
    assert all(r["replicas"] == 2 for r in results)
    assert results[0]["losses"] == results[1]["losses"]  # every worker logs the all-reduced loss
    assert results[0]["losses"] == pytest.approx(default_losses["losses"], abs=1e-5)


def test_train_py_multiworker_writes_one_run_folder_from_the_chief(tmp_path, corpus_csv):
    ports, out = free_ports(2), tmp_path / "mw"
    args = ["train.py", "--data", str(corpus_csv), "--embeddings", "learned", "--strategy", "multiworker", "--out", str(out), *TINY_TRAIN]
    fresh_cache = {"PATENTGEN_CACHE": str(tmp_path.parent / f"{tmp_path.name}-cache")}
    procs = [start(args, i, ports, fresh_cache) for i in (0, 1)]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    assert "2 replica(s), global batch 8 (4 per replica)" in outputs[0][0]
    # worker 0 prepares the corpus; worker 1 waits for it and reads the prepared corpus from the cache
    assert "documents, prepared in" in outputs[0][0] and "from the prepared-corpus cache" in outputs[1][0]
    assert "worker 1: done" in outputs[1][0]
    assert (out / "metrics.json").is_file() and (out / "model.keras").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mw"]  # no staging folder of either worker left


def test_train_py_mirrored_with_a_cpu_split(tmp_path, corpus_csv):
    result = run_script("train.py", "--data", str(corpus_csv), "--embeddings", "learned", "--strategy", "mirrored",
                        "--cpu-devices", "2", "--out", str(tmp_path / "m"), *TINY_TRAIN)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "/device:CPU:1" in result.stdout and "strategy mirrored, 2 replica(s)" in result.stdout
    assert "GPU: none" in result.stdout  # this machine has none
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        "warning: --strategy mirrored without a GPU: its replicas share the same CPU cores, so training is no faster"]
    assert json.loads((tmp_path / "m" / "config.json").read_text())["strategy"] == "mirrored"


def test_mirrored_on_one_device_is_an_error_unless_fallback_is_allowed(tmp_path, corpus_csv):
    args = ["train.py", "--data", str(corpus_csv), "--embeddings", "learned", "--strategy", "mirrored", *TINY_TRAIN]
    refused = run_script(*args, "--out", str(tmp_path / "a"))
    error = refused.stderr.strip().splitlines()[-1]  # TensorFlow's start-up notices may come before it
    assert refused.returncode == 2 and error.startswith("error:") and "Traceback" not in refused.stderr
    assert "needs 2 or more devices" in error and "--allow-fallback" in error
    assert not (tmp_path / "a").exists()
    allowed = run_script(*args, "--out", str(tmp_path / "b"), "--allow-fallback")
    assert allowed.returncode == 0 and "falling back to the default strategy" in allowed.stdout


def test_multiworker_without_tf_config_is_an_error(tmp_path, corpus_csv):
    env_has = os.environ.pop("TF_CONFIG", None)
    try:
        result = run_script("train.py", "--data", str(corpus_csv), "--strategy", "multiworker", "--out", str(tmp_path / "x"), *TINY_TRAIN)
    finally:
        if env_has is not None:
            os.environ["TF_CONFIG"] = env_has
    assert result.returncode == 2 and "needs TF_CONFIG" in result.stderr and "Traceback" not in result.stderr


def test_mixed_precision_keeps_logits_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        for arch in ("lstm", "classic"):
            model = build_model(30, arch, embedding_dim=8, units=8)
            assert model.outputs[0].dtype == "float32"
            assert model.get_layer("lstm_0").compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert build_model(30, "lstm", embedding_dim=8, units=8).get_layer("lstm_0").compute_dtype == "float32"


def test_train_py_mixed_precision_on_cpu(tmp_path, corpus_csv):
    out = tmp_path / "mp"
    result = run_script("train.py", "--data", str(corpus_csv), "--embeddings", "learned", "--mixed-precision", "--out", str(out), *TINY_TRAIN)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mixed precision" in result.stdout and json.loads((out / "config.json").read_text())["mixed_precision"] is True
    lines = result.stdout.splitlines()
    first = {prefix: next(i for i, line in enumerate(lines) if line.startswith(prefix)) for prefix in ("GPU: none", "model:")}
    assert first["GPU: none"] < first["model:"]  # said at the start
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        "warning: --mixed-precision without a GPU: it runs, but float16 speeds up GPUs, not CPUs"]
    assert json.loads((out / "metrics.json").read_text())["test"]["full_context"]["ce"] < unigram_ce(out)


def test_the_gpu_report_and_its_warnings():
    from patentgen import distribute

    assert distribute.gpus() == []  # no GPU on the machines the tests run on
    assert distribute.gpu_line([]).startswith("GPU: none; training on the CPU")
    assert distribute.gpu_line(["NVIDIA H100 (GPU:0)"]) == "GPU: found 1: NVIDIA H100 (GPU:0)"
    assert distribute.gpu_warnings(["NVIDIA H100 (GPU:0)"], "mirrored", True) == []
    assert distribute.gpu_warnings([], "default", False) == []
    warned = distribute.gpu_warnings([], "mirrored", True)
    assert len(warned) == 2 and warned[0].startswith("--mixed-precision") and warned[1].startswith("--strategy mirrored")
