"""Measure serving in a separate process, so one model's memory never pollutes another's figure.

The parent writes the texts to a JSON file and starts ``python -m slm_core.runtime.measure``
with every thread-pool variable (OpenMP, OpenBLAS, MKL, TensorFlow) set to the thread count
before any library loads; with one thread the child also pins itself to one core, as a
one-vCPU machine would run it. The child loads the predictor (timed: imports + model),
measures it with :func:`slm_core.runtime.latency.measure_predictor`, and writes JSON with its
resident memory before loading, after loading and at peak. Exporting a model (TensorFlow for
a Keras model, scikit-learn to check a linear one) happens in its own child too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slm_core.errors import SlmError

THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "SLM_TF_THREADS",
)
DEFAULT_TIMEOUT_S = 1800


def child_env(threads: int) -> dict[str, str]:
    """The environment of a measuring child: slm_core importable, every pool at ``threads``."""
    import slm_core

    root = str(Path(slm_core.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in THREAD_ENV:
        env[name] = str(int(threads))
    return env


def _run_child(args: list[str], threads: int, timeout: float) -> dict[str, Any]:
    """Run one measuring child and return the JSON it wrote."""
    with tempfile.TemporaryDirectory(prefix="slm_measure_") as tmp:
        out = Path(tmp) / "out.json"
        command = [sys.executable, "-m", "slm_core.runtime.measure", *args, "--out", str(out)]
        try:
            proc = subprocess.run(
                command,
                env=child_env(threads),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise SlmError("errors.runtime_measure.timed_out", timeout=f"{timeout:.0f}") from None
        if proc.returncode != 0 or not out.exists():
            lines = [ln for ln in (proc.stderr or "").splitlines() if ln.strip()]
            reason = lines[-1].strip() if lines else f"exit code {proc.returncode}"
            raise SlmError("errors.runtime_measure.process_failed", reason=reason[:300])
        return json.loads(out.read_text(encoding="utf-8"))


def _texts_file(directory: Path, payload: dict[str, Any]) -> Path:
    path = directory / "texts.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return path


def measure_in_subprocess(
    model_dir: Path,
    texts: Sequence[str],
    threads: int,
    *,
    serving_dir: Path | None = None,
    form: str | None = None,
    config=None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Serve a saved model in a fresh process with ``threads`` threads and measure it.

    Returns the child's JSON, a :class:`~slm_core.runtime.record.SettingMeasure` as
    ``to_dict()`` writes it (read it with ``SettingMeasure.from_dict``).
    """
    from slm_core.runtime.latency import LatencyConfig

    config = config or LatencyConfig()
    with tempfile.TemporaryDirectory(prefix="slm_texts_") as tmp:
        path = _texts_file(Path(tmp), {"texts": list(texts), "config": config.to_dict()})
        args = ["serve", "--model-dir", str(model_dir), "--texts", str(path)]
        args += ["--threads", str(int(threads))]
        if serving_dir is not None:
            args += ["--serving-dir", str(serving_dir)]
        if form:
            args += ["--form", form]
        return _run_child(args, threads, timeout)


def export_in_subprocess(
    model_dir: Path,
    serving_dir: Path,
    texts: Sequence[str],
    y_true: Sequence[str] | None,
    reference_proba,
    *,
    threads: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Export a model in a fresh process (a Keras model to LiteRT and ONNX, a linear model to
    its compiled NumPy form), checking parity on ``texts``; returns the manifest."""
    from slm_core.runtime.serve import thread_count

    payload = {
        "texts": list(texts),
        "y_true": None if y_true is None else [str(v) for v in y_true],
        "proba": None
        if reference_proba is None
        else [list(map(float, r)) for r in reference_proba],
    }
    with tempfile.TemporaryDirectory(prefix="slm_texts_") as tmp:
        path = _texts_file(Path(tmp), payload)
        args = ["export", "--model-dir", str(model_dir), "--serving-dir", str(serving_dir)]
        args += ["--texts", str(path)]
        return _run_child(args, thread_count(threads), timeout)


# ------------------------------------------------------------------------ the child


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _peak_rss_bytes() -> int:
    # VmHWM belongs to this program's own address space; ru_maxrss would also count the
    # parent's memory copied by fork before exec.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _pin(threads: int) -> list[int] | None:
    """Pin this process to ``threads`` cores (the highest-numbered ones); the CPUs it got."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None
    if threads < len(allowed):
        chosen = allowed[-threads:]
        os.sched_setaffinity(0, set(chosen))
        return chosen
    return allowed


def _serve_child(args: argparse.Namespace) -> dict[str, Any]:
    cpus = _pin(args.threads)
    payload = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    # Baseline: Python with NumPy, what any Python service starts from.
    from slm_core.runtime.latency import LatencyConfig, measure_predictor
    from slm_core.runtime.record import SettingMeasure
    from slm_core.runtime.serve import load_predictor

    rss_start = _rss_bytes()
    started = time.perf_counter()  # load = the runtime's imports + reading the model
    predictor = load_predictor(
        Path(args.model_dir),
        serving_dir=Path(args.serving_dir) if args.serving_dir else None,
        threads=args.threads,
        form=args.form,
    )
    load_seconds = time.perf_counter() - started
    rss_loaded = _rss_bytes()
    config = LatencyConfig.from_dict(payload.get("config") or {})
    report = measure_predictor(predictor, payload["texts"], config, load_seconds)
    return SettingMeasure.of(
        report,
        rss_start_bytes=rss_start,
        rss_loaded_bytes=rss_loaded,
        peak_rss_bytes=_peak_rss_bytes(),
        artifact_bytes=predictor.artifact_bytes,
        artifact_files={f.name: f.stat().st_size for f in predictor.files if f.is_file()},
        parity=predictor.parity,
        cpus=None if cpus is None else tuple(cpus),
        runtime_version=_runtime_version(predictor.form),
        pid=os.getpid(),
    ).to_dict()


def _runtime_version(form: str) -> str:
    from importlib import metadata

    package = {
        "litert_f32": "ai-edge-litert",
        "litert_int8": "ai-edge-litert",
        "onnx": "onnxruntime",
        "keras": "tensorflow-cpu",
        "sklearn": "scikit-learn",
        "numpy": "numpy",  # the compiled linear form needs nothing else
    }.get(form)
    if package is None:
        return ""
    for name in (package, package.replace("-cpu", "")):
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return package


def _export_child(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from slm_core.runtime.export import export_model

    payload = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    proba = payload.get("proba")
    manifest = export_model(
        Path(args.model_dir),
        Path(args.serving_dir),
        payload["texts"],
        payload.get("y_true"),
        None if proba is None else np.asarray(proba, dtype=np.float64),
    )
    return manifest.to_dict()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the measuring child processes."""
    parser = argparse.ArgumentParser(prog="python -m slm_core.runtime.measure")
    parser.add_argument("mode", choices=("serve", "export"))
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--serving-dir")
    parser.add_argument("--texts", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--form")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        result = _serve_child(args) if args.mode == "serve" else _export_child(args)
    except SlmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
