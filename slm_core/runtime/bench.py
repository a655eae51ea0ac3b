"""Benchmark one trained run end to end and store the result as the run's 'bench' result.

``bench_run`` exports a Keras model once (LiteRT float32/int8 and ONNX, parity-checked on the
test split), then measures the served form in fresh processes at one thread and at every
core, and adds size, memory, parameters and CodeCarbon-method energy. Only one benchmark
measures at a time per ``SLM_HOME`` (a file lock), so two never compete for the CPU.

``start_background`` runs benchmarks in a detached process for the Cost page, which polls
each run's 'bench_progress' result. ``python -m slm_core.runtime.bench --run ID`` is that
process.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slm_core import cost
from slm_core.errors import NotFoundError, Phrase, SlmError, render
from slm_core.runtime.latency import LatencyConfig
from slm_core.runtime.serve import default_serving_dir, read_manifest, thread_count

BENCH_KIND = "bench"
PROGRESS_KIND = "bench_progress"
BENCH_VERSION = 1
MAX_TEXTS = 2000
JOB_FILE = "bench_job.json"
LOCK_FILE = "bench.lock"
FORM_NAMES = {
    "litert_f32": "LiteRT float32",
    "litert_int8": "LiteRT dynamic-range int8",
    "onnx": "ONNX Runtime",
    "keras": "Keras (TensorFlow tf.function)",
    "sklearn": "scikit-learn",
}

Progress = Callable[[float, str], None]


def default_config() -> LatencyConfig:
    """Full measurement, or the short one when ``SLM_BENCH_PROFILE=quick`` (demos, CI)."""
    from slm_core.runtime.latency import QUICK

    return QUICK if os.environ.get("SLM_BENCH_PROFILE", "").lower() == "quick" else LatencyConfig()


def setting_key(threads: int, all_threads: int) -> str:
    """Name of a thread setting in the stored result: single_thread, all_threads or threads_N."""
    if threads == 1:
        return "single_thread"
    if threads == all_threads:
        return "all_threads"
    return f"threads_{threads}"


@dataclass(frozen=True)
class BenchReport:
    """Everything measured about serving one run, as stored under the run's 'bench' result.

    ``settings`` maps a thread setting ("single_thread", "all_threads") to what the measuring
    process reported (latency, throughput, memory, CPU seconds). Energy excludes PUE.
    """

    run_id: int
    model_id: str
    family: str
    form: str
    parity: dict[str, Any] | None
    forms: dict[str, Any]
    settings: dict[str, dict[str, Any]]
    artifact_bytes: int | None
    artifact_files: dict[str, int]
    n_params: int | None
    cpu: dict[str, Any]
    energy: dict[str, Any]
    train_energy: dict[str, Any]
    measured_at: str
    host: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def single(self) -> dict[str, Any] | None:
        return self.settings.get("single_thread")

    @property
    def all_threads(self) -> dict[str, Any] | None:
        return self.settings.get("all_threads")

    def _primary(self) -> dict[str, Any]:
        return self.single or next(iter(self.settings.values()), {})

    def to_dict(self) -> dict[str, Any]:
        primary = self._primary()
        peak = [s.get("peak_rss_bytes") for s in self.settings.values() if s.get("peak_rss_bytes")]
        throughput = {
            k: v.get("texts_per_second") for k, v in (primary.get("throughput") or {}).items()
        }
        batch = (primary.get("throughput") or {}).get("256") or {}
        return {
            "version": BENCH_VERSION,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "family": self.family,
            "form": self.form,
            "runtime": FORM_NAMES.get(self.form, self.form),
            "runtime_version": primary.get("runtime_version"),
            "parity": self.parity,
            "forms": self.forms,
            "threads": primary.get("threads"),
            "latency_ms": {k: dict(v.get("latency_ms") or {}) for k, v in self.settings.items()},
            "settings": self.settings,
            "load_ms": primary.get("load_ms"),
            "first_call_ms": primary.get("first_call_ms"),
            "throughput": throughput,
            "vectorize_share": primary.get("vectorize_share"),
            "cpu_seconds_per_prediction": primary.get("cpu_seconds_per_prediction"),
            "cpu_seconds_per_prediction_batch": batch.get("cpu_seconds_per_text"),
            "cpu_seconds_basis": "process CPU time per single-text prediction, 1 thread",
            "artifact_bytes": self.artifact_bytes,
            "artifact_files": self.artifact_files,
            "n_params": self.n_params,
            "peak_rss_bytes": max(peak) if peak else None,
            "energy_kwh_per_million": self.energy.get("value"),
            "energy_includes_pue": False,
            "energy": self.energy,
            "train_energy_kwh": self.train_energy.get("value"),
            "train_energy_source": self.train_energy.get("source"),
            "train_energy": self.train_energy,
            "cpu": self.cpu,
            "host": self.host,
            "measured_at": self.measured_at,
            "config": primary.get("config"),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchReport:
        """Rebuild a report from a stored 'bench' result."""
        return cls(
            run_id=int(data["run_id"]),
            model_id=str(data.get("model_id", "")),
            family=str(data.get("family", "")),
            form=str(data.get("form", "")),
            parity=data.get("parity"),
            forms=dict(data.get("forms") or {}),
            settings=dict(data.get("settings") or {}),
            artifact_bytes=data.get("artifact_bytes"),
            artifact_files=dict(data.get("artifact_files") or {}),
            n_params=data.get("n_params"),
            cpu=dict(data.get("cpu") or {}),
            energy=dict(data.get("energy") or {}),
            train_energy=dict(data.get("train_energy") or {}),
            measured_at=str(data.get("measured_at", "")),
            host=dict(data.get("host") or {}),
            notes=tuple(data.get("notes") or ()),
        )


# --------------------------------------------------------------------------- lock


@contextlib.contextmanager
def _bench_lock(home: Path) -> Iterator[None]:
    """Hold the one-benchmark-at-a-time lock of ``home`` (waits for a running benchmark)."""
    path = Path(home) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------- the bench


def _sample_texts(texts: list[str], limit: int, seed: int = 0) -> list[str]:
    usable = [t for t in texts if str(t).strip()]
    if len(usable) <= limit:
        return usable
    return random.Random(seed).sample(usable, limit)


def _host() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "logical_cpus": thread_count(None),
    }


def _train_energy(run, family: str, cpu: dict[str, Any], ram_w: float) -> dict[str, Any]:
    metrics = run.metrics or {}
    measured = metrics.get("train_energy_kwh")
    if isinstance(measured, (int, float)) and measured >= 0:
        details = metrics.get("train_energy") or {}
        return {
            "value": float(measured),
            "unit": "kWh (IT, before PUE)",
            "source": "codecarbon",
            "method": "CodeCarbon OfflineEmissionsTracker around training (process mode)",
            "estimate": bool(details.get("estimate", True)),
            "assumptions": details,
        }
    threads = 1 if family == "linear" else int(cpu.get("logical_cpus") or 1)
    figure = cost.training_kwh_estimate(
        run.train_seconds, threads, float(cpu["watts_per_thread"]), ram_w
    )
    return {**figure.to_dict(), "source": "estimate", "estimate": True}


def bench_run(
    store,
    run_id: int,
    threads: int | None = None,
    *,
    config: LatencyConfig | None = None,
    progress: Progress | None = None,
    max_texts: int = MAX_TEXTS,
    reexport: bool = False,
) -> BenchReport:
    """Measure a succeeded run, store the result as its 'bench' result and return it.

    Parameters
    ----------
    threads
        None measures at 1 thread and at every core; a number measures that setting only and
        keeps the run's other stored settings.
    config
        How long to measure (:class:`~slm_core.runtime.latency.LatencyConfig`); default
        :func:`default_config`.
    progress
        ``progress(fraction, message)`` before each step.
    reexport
        Export the Keras model again even if a current export exists.
    """
    from slm_core.energy import cpu_power
    from slm_core.models.registry import read_meta
    from slm_core.runtime.measure import export_in_subprocess, measure_in_subprocess
    from slm_core.train import MODEL_SUBDIR, load_test_predictions

    say = progress or (lambda fraction, message: None)
    config = config or default_config()
    run = store.get_run(run_id)
    if run.status != "succeeded":
        raise SlmError(
            "errors.runtime_bench.run_only_successfully_trained",
            run_id=run_id,
            status=Phrase(f"status.{run.status}"),
        )
    model_dir = store.artifact_dir(run_id) / MODEL_SUBDIR
    if not (model_dir / "model.json").exists():
        raise NotFoundError("errors.runtime_bench.run_no_saved_model", run_id=run_id)
    meta = read_meta(model_dir)
    family = str(meta.get("family", "linear"))
    preds = load_test_predictions(store, run_id)
    texts = _sample_texts(preds.texts, max_texts)
    if not texts:
        raise SlmError("errors.runtime_bench.run_no_test_texts", run_id=run_id)
    all_threads = thread_count(None)
    wanted = [1, all_threads] if threads is None else [int(threads)]
    wanted = list(dict.fromkeys(max(1, w) for w in wanted))
    notes: list[str] = []

    say(0.0, "waiting for other measurements to finish")
    with _bench_lock(store.home):
        if store.list_runs(statuses=("running",)):
            notes.append(render("errors.note.training_active"))
        serving_dir = default_serving_dir(model_dir)
        manifest = None
        if family == "neural":
            from slm_core.runtime.export import manifest_is_current

            manifest = read_manifest(serving_dir)
            if reexport or not manifest_is_current(manifest, model_dir):
                say(0.05, "exporting to LiteRT and ONNX and checking parity")
                manifest = export_in_subprocess(
                    model_dir,
                    serving_dir,
                    preds.texts,
                    preds.y_true,
                    _aligned_proba(preds, meta["classes"]),
                )
            failed = [
                f"{name}: {form.get('error') or 'parity failed'}"
                for name, form in (manifest.get("forms") or {}).items()
                if not form.get("passed")
            ]
            notes.extend(render("errors.note.not_served", line=line) for line in failed)
            if manifest.get("served") == "keras":
                notes.append(render("errors.note.keras_serves"))
        settings: dict[str, dict[str, Any]] = {}
        start = 0.4 if family == "neural" else 0.05
        step = (0.95 - start) / len(wanted)
        for i, n in enumerate(wanted):
            say(start + i * step, f"measuring with {n} thread{'s' if n > 1 else ''}")
            settings[setting_key(n, all_threads)] = measure_in_subprocess(
                model_dir, texts, n, serving_dir=serving_dir, config=config
            )

    previous = store.get_result(run_id, BENCH_KIND) or {}
    if threads is not None and previous.get("version") == BENCH_VERSION:
        kept = dict(previous.get("settings") or {})
        kept.update(settings)
        settings = kept
    primary = settings.get("single_thread") or settings[next(iter(settings))]
    say(0.96, "computing energy")
    power = cpu_power().to_dict()
    peak = max(s.get("peak_rss_bytes") or 0 for s in settings.values())
    ram = cost.ram_watts(peak / 2**30 if peak else 0.0)
    latency = primary.get("latency_ms") or {}
    energy = cost.inference_kwh_per_million(
        primary.get("cpu_seconds_per_prediction"),
        (latency.get("mean") or 0.0) / 1000.0 if latency else None,
        float(power["watts_per_thread"]),
        float(ram.value),
    ).to_dict()
    energy["ram"] = ram.to_dict()
    energy["estimate"] = not power.get("rapl", False)
    n_params = (run.metrics or {}).get("n_params") or meta.get("n_params")
    report = BenchReport(
        run_id=run.id,
        model_id=run.model_id,
        family=family,
        form=str(primary.get("form")),
        parity=primary.get("parity"),
        forms=dict((manifest or {}).get("forms") or {}),
        settings=settings,
        artifact_bytes=primary.get("artifact_bytes"),
        artifact_files=dict(primary.get("artifact_files") or {}),
        n_params=int(n_params) if n_params is not None else None,
        cpu=power,
        energy=energy,
        train_energy=_train_energy(run, family, power, float(ram.value)),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        host=_host(),
        notes=tuple(notes),
    )
    store.put_result(run_id, BENCH_KIND, report.to_dict())
    say(1.0, "done")
    return report


def _aligned_proba(preds, classes: list[str]):
    """Stored test probabilities in the model's class order (None if they do not match)."""
    import numpy as np

    if list(preds.classes) == list(classes):
        return preds.proba
    if set(preds.classes) != set(classes):
        return None
    order = [list(preds.classes).index(c) for c in classes]
    return np.asarray(preds.proba)[:, order]


# ------------------------------------------------------------------------- printing


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def _mb(value: Any) -> str:
    return "—" if not value else f"{value / 1e6:,.2f} MB"


def format_bench(report: BenchReport, assumptions=None) -> str:
    """A readable summary of a benchmark (the CLI's table), with the serving cost of the
    scenario's volume in every serving mode."""
    from slm_core.value.assumptions import Assumptions
    from slm_core.value.serving import money_summary

    data = report.to_dict()
    a = assumptions or Assumptions()
    lines = [
        f"Run {report.run_id} · {report.model_id} ({report.family}) · served by "
        f"{data['runtime']} ({data.get('runtime_version') or '?'})",
    ]
    parity = report.parity or {}
    if report.family == "neural" and parity:
        delta = parity.get("accuracy_delta")
        lines.append(
            f"Parity with Keras on {parity.get('n', 0):,} test texts: agreement "
            f"{parity.get('agreement', 0):.2%}, accuracy change "
            f"{'—' if delta is None else f'{delta * 100:+.2f} points'} "
            f"({'passed' if parity.get('passed') else 'FAILED'})"
        )
    lines.append("")
    header = f"{'threads':<14}{'load ms':>9}{'first ms':>9}{'p50':>9}{'p90':>9}{'p95':>9}"
    header += f"{'p99':>9}{'calls':>7}{'/s @32':>10}{'/s @256':>10}{'vec %':>7}{'peak RSS':>12}"
    lines.append(header)
    for key, s in report.settings.items():
        lat = s.get("latency_ms") or {}
        tp = s.get("throughput") or {}
        lines.append(
            f"{key:<14}{_ms(s.get('load_ms')):>9}{_ms(s.get('first_call_ms')):>9}"
            f"{_ms(lat.get('p50')):>9}{_ms(lat.get('p90')):>9}{_ms(lat.get('p95')):>9}"
            f"{_ms(lat.get('p99')):>9}{lat.get('n_calls', 0):>7}"
            f"{(tp.get('32') or {}).get('texts_per_second', 0):>10,.0f}"
            f"{(tp.get('256') or {}).get('texts_per_second', 0):>10,.0f}"
            f"{(s.get('vectorize_share') or 0) * 100:>6.1f}%"
            f"{_mb(s.get('peak_rss_bytes')):>12}"
        )
    lines.append("(latency in ms per single text, raw text in, label and probabilities out)")
    lines.append("")
    cpu_s = data.get("cpu_seconds_per_prediction")
    money = money_summary(data, a)
    n_params = f"{report.n_params:,}" if report.n_params else "—"
    lines.append(f"Artifact: {_mb(report.artifact_bytes)} · parameters: {n_params}")
    if cpu_s is not None:
        lines.append(f"CPU per prediction: {cpu_s * 1000:.3f} ms (1 thread, single text)")
    lines.append(
        f"Serving {a.annual_volume:,.0f} texts a year (scenario '{a.name}', modelled, "
        f"{a.currency}); chosen mode: {a.serving_mode}"
    )
    for mode, figure in money["modes"].items():
        cost_text = "—" if figure["yearly_cost"] is None else f"{figure['yearly_cost']:,.2f}/yr"
        per_m = "—" if figure["per_million"] is None else f"{figure['per_million']:,.4g} per 1M"
        extra = f", {figure['instances']} instance(s)" if figure.get("instances") else ""
        fits = "" if figure["feasible"] else " (does not fit the device budget)"
        lines.append(f"  {mode:<11} {cost_text:>16} · {per_m}{extra}{fits}")
    energy = data.get("energy_kwh_per_million")
    if energy is not None:
        cpu = report.cpu
        kind = " estimate" if cpu.get("estimate") else ""
        lines.append(
            f"Energy: {energy:.6g} kWh per 1M predictions before PUE (CPU "
            f"{cpu.get('watts_per_thread', 0):g} W/thread{kind}, RAM "
            f"{report.energy.get('ram', {}).get('value', 0):g} W; CodeCarbon method)"
        )
    train = report.train_energy
    if train.get("value") is not None:
        lines.append(
            f"Training energy: {train['value']:.6g} kWh before PUE ({train.get('source')})"
        )
    lines.extend(f"Note: {n}" for n in report.notes)
    return "\n".join(lines)


# ------------------------------------------------------------------- in background


def job_path(store) -> Path:
    return Path(store.home) / JOB_FILE


def background_job(store) -> dict[str, Any] | None:
    """The running background benchmark job of this store (run ids, pid), or None."""
    from slm_core.store import pid_alive

    try:
        job = json.loads(job_path(store).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not pid_alive(job.get("pid"), job.get("pid_started")):
        return None
    return job


def start_background(store, run_ids: list[int], threads: int | None = None) -> int:
    """Benchmark ``run_ids`` one after another in a detached process; returns its pid.

    Each run's progress is written to its 'bench_progress' result.
    """
    if not run_ids:
        raise SlmError("errors.runtime_bench.choose_at_least_one")
    if background_job(store) is not None:
        raise SlmError("errors.runtime_bench.measurement_already_running_wait")
    for run_id in run_ids:
        store.put_result(
            run_id, PROGRESS_KIND, {"status": "queued", "fraction": 0.0, "message": "queued"}
        )
    from slm_core.runtime.measure import child_env

    env = child_env(thread_count(None))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "SLM_TF_THREADS"):
        env.pop(name, None)  # the job itself only orchestrates; each child sets its own
    env["SLM_DATABASE_URL"] = store.url
    env["SLM_HOME"] = str(store.home)
    command = [sys.executable, "-m", "slm_core.runtime.bench"]
    for run_id in run_ids:
        command += ["--run", str(int(run_id))]
    if threads:
        command += ["--threads", str(int(threads))]
    logs = Path(store.home) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "bench.log", "ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-bench-{proc.pid}").start()
    # Written here, not only by the child, so a page rerun a moment later already sees it.
    _write_job(store, list(run_ids), proc.pid)
    return proc.pid


def _write_job(store, run_ids: list[int], pid: int | None = None) -> None:
    import psutil

    pid = pid or os.getpid()
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        started = None
    job = {
        "pid": pid,
        "pid_started": started,
        "run_ids": run_ids,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = job_path(store)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(job), encoding="utf-8")
    os.replace(tmp, path)


class _StoreProgress:
    """Writes a run's benchmark progress to the store, at most every 0.3 s."""

    def __init__(self, store, run_id: int) -> None:
        self.store, self.run_id, self.last = store, run_id, 0.0

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self.last < 0.3:
            return
        self.last = now
        data = {"status": "running", "fraction": fraction, "message": message, "pid": os.getpid()}
        self.store.put_result(self.run_id, PROGRESS_KIND, data)


def run_jobs(store, run_ids: list[int], threads: int | None = None) -> dict[int, str]:
    """Benchmark runs in order, recording progress and failures; run id -> final status."""
    _write_job(store, run_ids)
    outcome: dict[int, str] = {}
    try:
        for run_id in run_ids:
            progress = _StoreProgress(store, run_id)
            try:
                bench_run(store, run_id, threads, progress=progress)
            except SlmError as exc:
                outcome[run_id] = "failed"
                store.put_result(run_id, PROGRESS_KIND, {"status": "failed", "error": str(exc)})
            except Exception as exc:  # one run crashing must not stop the others
                traceback.print_exc()
                outcome[run_id] = "failed"
                reason = " ".join(str(exc).split())[:300]
                store.put_result(
                    run_id,
                    PROGRESS_KIND,
                    {"status": "failed", "error": f"{type(exc).__name__}: {reason}"},
                )
            else:
                outcome[run_id] = "done"
                store.put_result(run_id, PROGRESS_KIND, {"status": "done", "fraction": 1.0})
    finally:
        job = background_job(store)
        if job is None or job.get("pid") == os.getpid():
            job_path(store).unlink(missing_ok=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    """The background benchmark process."""
    from slm_core.store import RunStore

    parser = argparse.ArgumentParser(prog="python -m slm_core.runtime.bench")
    parser.add_argument("--run", type=int, action="append", required=True)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    store = RunStore()
    outcome = run_jobs(store, args.run, args.threads)
    print(json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
