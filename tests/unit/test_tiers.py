"""The unit tier stays the fast one: `pytest -q` collects tests/unit only, and collecting it
imports neither TensorFlow nor Keras (a Keras import at the top of a unit test file fails here)."""

import json
import subprocess
import sys

from conftest import ROOT

# `pytest -q --collect-only` in a fresh interpreter, then the test ids it found and the heavy modules it imported.
PROBE = """
import json, sys, pytest
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider"])
print(json.dumps({"code": int(code), "heavy": sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow"))}))
"""


def test_the_default_run_collects_the_unit_tier_without_tensorflow_or_keras():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = result.stdout.splitlines()
    report = json.loads(lines[-1])
    assert report["code"] == 0, result.stdout + result.stderr
    ids = [line for line in lines if "::" in line]
    assert ids and all(line.startswith("tests/unit/") for line in ids)
    assert any(line.startswith("tests/unit/test_tiers.py::") for line in ids)
    assert report["heavy"] == [], f"collecting tests/unit imported {report['heavy'][:5]}: import them inside the tests or move the file to tests/e2e"
