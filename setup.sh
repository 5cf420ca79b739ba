#!/usr/bin/env bash
# Create .venv beside this file and install patentgen into it (editable, from pyproject.toml) with
# the test and benchmark tools:
#   bash setup.sh          TensorFlow's CPU build: any machine
#   bash setup.sh --gpu    TensorFlow with its CUDA libraries: Linux x86-64 with an NVIDIA GPU and driver
set -euo pipefail
cd "$(dirname "$0")"
EXTRA=cpu
for arg in "$@"; do
  case "$arg" in
    --gpu) EXTRA=gpu ;;
    --cpu) EXTRA=cpu ;;
    -h|--help) sed -n '2,5p' "$0" | cut -c3-; exit 0 ;;
    *) echo "setup.sh: unknown option $arg; use --gpu for TensorFlow with CUDA, or no option for the CPU build" >&2; exit 2 ;;
  esac
done
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# Both builds install the module `tensorflow`: drop the other one when switching between them.
if [ "$EXTRA" = gpu ]; then OTHER=tensorflow-cpu; else OTHER=tensorflow; fi
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] && .venv/bin/python -m pip show --quiet "$OTHER" 2>/dev/null; then
  .venv/bin/python -m pip uninstall --quiet --yes "$OTHER"
fi
.venv/bin/python -m pip install --quiet -e ".[dev,$EXTRA]"
if [ "$EXTRA" = gpu ]; then
  GPUS=$(TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -c "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))" 2>/dev/null || echo 0)
  echo "patentgen: environment ready in .venv (TensorFlow with CUDA; it sees $GPUS GPU(s))"
else
  echo "patentgen: environment ready in .venv"
fi
