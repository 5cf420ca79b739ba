"""Devices and distribution: which tf.distribute strategy trains the model, and in what precision.

Owns the choice made by ``--strategy`` (default, mirrored, multiworker), the optional split of
the CPU into logical devices (to exercise ``mirrored`` on one machine without GPUs), mixed
precision, who the chief worker is, and what training says about GPUs at its start (the GPUs
found, or why there are none, and a warning for each GPU option asked for without one). The
strategy must be made before TensorFlow touches its devices, so ``train.py`` does that first.
The batch size stays global: each of N replicas gets batch / N examples a step, so results do
not depend on the number of devices.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .errors import UserError

STRATEGIES = ("default", "mirrored", "multiworker")


@dataclass(frozen=True)
class Setup:
    strategy: object  # a tf.distribute.Strategy
    name: str  # the strategy actually used
    replicas: int
    chief: bool  # only the chief writes the run folder
    worker: int  # this worker's index (0 on one machine)
    notes: tuple[str, ...] = ()


def split_cpu(n: int) -> None:
    """Present the CPU as ``n`` logical devices (for testing ``mirrored`` without GPUs)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:
        raise UserError("--cpu-devices must be set before TensorFlow starts; run it from train.py") from None


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UserError("--strategy multiworker needs TF_CONFIG in the environment (cluster and task, see README); "
                        "or use --strategy default or mirrored")
    try:
        config = json.loads(raw)
        workers, task = config["cluster"]["worker"], config["task"]
        if task["type"] != "worker" or not 0 <= int(task["index"]) < len(workers):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise UserError('TF_CONFIG is not valid: it needs {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}') from None
    return config


def worker_index(name: str) -> int:
    """This process's worker index, read from TF_CONFIG without starting TensorFlow."""
    return int(_tf_config()["task"]["index"]) if name == "multiworker" else 0


def make(name: str, allow_fallback: bool, cpu_devices: int | None = None) -> Setup:
    """The strategy for ``name``. ``mirrored`` with one device is an error unless
    ``allow_fallback``, which trains on the default strategy instead and says so."""
    import tensorflow as tf

    if name == "multiworker":
        index = worker_index(name)  # checks TF_CONFIG, which the strategy's resolver reads too
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return Setup(strategy, name, strategy.num_replicas_in_sync, index == 0, index)
    if cpu_devices:
        split_cpu(cpu_devices)
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(devices) >= 2:
            strategy = tf.distribute.MirroredStrategy(devices)
            return Setup(strategy, name, len(devices), True, 0)
        message = f"--strategy mirrored needs 2 or more devices and found 1 ({devices[0]})"
        if not allow_fallback:
            raise UserError(f"{message}; add --allow-fallback to train on it anyway, or --cpu-devices 2 to split the CPU for a test")
        return Setup(tf.distribute.get_strategy(), "default", 1, True, 0, (f"{message}: falling back to the default strategy",))
    return Setup(tf.distribute.get_strategy(), "default", 1, True, 0)


def _logs_with_a_replica_axis(step):
    """``step`` (a model's ``train_step`` or ``test_step``) with each scalar it logs given a leading
    axis of one. Keras's fit all-reduces the logs of a multi-worker step with ``axis=0``, which
    fails on a scalar (keras-team/keras#20585); on a (1,) value per replica it gives the mean over
    all replicas, a scalar, the same on every worker."""
    import tensorflow as tf

    def with_axis(data):
        return tf.nest.map_structure(lambda value: tf.reshape(value, (1,)), step(data))

    return with_axis


def adopt(model, setup: Setup) -> None:
    """Fits ``model`` to ``setup``'s strategy. Under multiworker: its logs carry a replica axis
    (``_logs_with_a_replica_axis``), and fit takes the strategy from the enclosing scope rather
    than from the model: Keras's eager build step before training cannot reduce a multi-worker
    batch (keras-team/keras#20585), and with no strategy recorded on the model it skips that step.
    Keras has no public setting for that (the issue's only other way is building the model outside
    the strategy's scope, which would leave its variables undistributed), so the attribute stays."""
    if setup.name == "multiworker":
        model.train_step = _logs_with_a_replica_axis(model.train_step)
        model.test_step = _logs_with_a_replica_axis(model.test_step)
        model._distribute_strategy = None


def set_precision(mixed: bool) -> None:
    """mixed_float16 compute with float32 variables (the model keeps its logits in float32)."""
    if mixed:
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")


def gpus() -> list[str]:
    """The GPUs TensorFlow found, by name (``NVIDIA H100 80GB HBM3 (GPU:0)``); empty without one."""
    import tensorflow as tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            name = tf.config.experimental.get_device_details(device).get("device_name")
        except (RuntimeError, ValueError):
            name = None
        short = device.name.replace("/physical_device:", "")
        found.append(f"{name} ({short})" if name else short)
    return found


def gpu_line(found: list[str]) -> str:
    """The line training logs at its start: the GPUs it found, or that it trains on the CPU and why."""
    if found:
        return f"GPU: found {len(found)}: {', '.join(found)}"
    import tensorflow as tf

    if not tf.test.is_built_with_cuda():
        driver = os.path.exists("/proc/driver/nvidia/version")
        why = ("this machine has an NVIDIA driver, but this TensorFlow is the CPU build: `bash setup.sh --gpu` "
               "(or the gpu extra) installs the one with CUDA") if driver else "this TensorFlow is the CPU build"
        return f"GPU: none; training on the CPU ({why})"
    return "GPU: none found (TensorFlow has CUDA, but sees no GPU: check the driver with nvidia-smi); training on the CPU"


def gpu_warnings(found: list[str], strategy: str, mixed: bool) -> list[str]:
    """One line for each option meant for GPUs that was asked for on a machine without one."""
    out = []
    if mixed and not found:
        out.append("--mixed-precision without a GPU: it runs, but float16 speeds up GPUs, not CPUs")
    if strategy == "mirrored" and not found:
        out.append("--strategy mirrored without a GPU: its replicas share the same CPU cores, so training is no faster")
    return out


def devices() -> str:
    import tensorflow as tf

    return ", ".join(d.name for d in tf.config.list_logical_devices())
