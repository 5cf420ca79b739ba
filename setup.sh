#!/usr/bin/env bash
# Create .venv beside this file and install everything patentgen needs (CPU TensorFlow).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
echo "patentgen: environment ready in .venv"
