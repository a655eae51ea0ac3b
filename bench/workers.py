"""Run one measurement in its own Python process and read back its ``RESULT {json}`` line.

Each benchmark worker runs alone so that its peak memory is its own and no TensorFlow state
leaks from one model into the next.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "RESULT "


def run_worker(command: list[str]) -> dict:
    """The worker's last ``RESULT`` object, or ``{"error": <its output's tail>}``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith(PREFIX)]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-2000:]}
    return json.loads(lines[-1][len(PREFIX) :])


def print_result(result: dict) -> None:
    print(PREFIX + json.dumps(result))
