"""Benchmark one trained run end to end and store the result as the run's 'bench' result.

``bench_run`` exports a Keras model once (LiteRT float32/int8 and ONNX) or checks a linear
model's compiled NumPy form, each parity-checked on the test split (texts the model did not
train on) against the evaluated answers, then measures the served form in fresh processes at
one thread and at every core, and adds size, memory, parameters and CodeCarbon-method energy: a
:class:`~slm_core.runtime.record.BenchReport`, the typed record every reader of a stored
benchmark uses. Only one benchmark measures at a time per ``SLM_HOME`` (a file lock), so two
never compete for the CPU.

``start_background`` runs benchmarks in a detached process for the Cost page, which polls
each run's 'bench_progress' result. ``python -m slm_core.runtime.bench --run ID`` is that
process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from slm_core import cost
from slm_core.errors import NotFoundError, Phrase, SlmError, render
from slm_core.locks import file_lock
from slm_core.models.registry import is_keras
from slm_core.runtime.export import ExportedForm
from slm_core.runtime.latency import LatencyConfig
from slm_core.runtime.record import (
    BENCH_VERSION,
    SINGLE,
    BenchReport,
    SettingMeasure,
    setting_key,
)
from slm_core.runtime.serve import default_serving_dir, read_manifest, thread_count

BENCH_KIND = "bench"
PROGRESS_KIND = "bench_progress"
MAX_TEXTS = 2000
JOB_FILE = "bench_job.json"
LOCK_FILE = "bench.lock"

Progress = Callable[[float, str], None]


def default_config() -> LatencyConfig:
    """Full measurement, or the short one when ``SLM_BENCH_PROFILE=quick`` (demos, CI)."""
    from slm_core.runtime.latency import QUICK

    return QUICK if os.environ.get("SLM_BENCH_PROFILE", "").lower() == "quick" else LatencyConfig()


# --------------------------------------------------------------------------- lock


def _bench_lock(home: Path) -> AbstractContextManager[IO[str] | None]:
    """Hold the one-benchmark-at-a-time lock of ``home`` (waits for a running benchmark)."""
    return file_lock(Path(home) / LOCK_FILE, wait_s=None)


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


@dataclass(frozen=True)
class _Target:
    """A succeeded run ready to measure: its saved model, metadata and sampled test texts."""

    run: Any  # RunRecord
    model_dir: Path
    meta: dict[str, Any]
    preds: Any  # TestPredictions
    texts: list[str]

    @property
    def family(self) -> str:
        return str(self.meta.get("family", "linear"))


def _target(store, run_id: int, max_texts: int) -> _Target:
    """The run to measure, or an error saying why it cannot be measured."""
    from slm_core.models.saved import read_meta
    from slm_core.train import MODEL_SUBDIR, load_test_predictions

    run = store.get_run(run_id)
    if run.status != "succeeded":
        raise SlmError(
            "errors.runtime_bench.run_not_succeeded",
            run_id=run_id,
            status=Phrase(f"status.{run.status}"),
        )
    model_dir = store.artifact_dir(run_id) / MODEL_SUBDIR
    if not (model_dir / "model.json").exists():
        raise NotFoundError("errors.runtime_bench.run_no_saved_model", run_id=run_id)
    meta = read_meta(model_dir)
    preds = load_test_predictions(store, run_id)
    texts = _sample_texts(preds.texts, max_texts)
    if not texts:
        raise SlmError("errors.runtime_bench.run_no_test_texts", run_id=run_id)
    return _Target(run, model_dir, meta, preds, texts)


def _exported_forms(
    target: _Target, serving_dir: Path, reexport: bool, say: Progress, notes: list[str]
) -> dict[str, ExportedForm]:
    """A model's exported forms (exported again when stale), noting what cannot serve."""
    from slm_core.runtime.export import manifest_is_current
    from slm_core.runtime.measure import export_in_subprocess

    manifest = read_manifest(serving_dir)
    if reexport or not manifest_is_current(manifest, target.model_dir):
        step = "exporting to LiteRT and ONNX" if is_keras(target.family) else "compiling"
        say(0.05, f"{step} and checking parity")
        preds = target.preds
        manifest = export_in_subprocess(
            target.model_dir,
            serving_dir,
            preds.texts,
            preds.y_true,
            _aligned_proba(preds, target.meta["classes"]),
        )
    forms = {k: ExportedForm.from_dict(v) for k, v in (manifest.get("forms") or {}).items()}
    failed = [
        f"{name}: {form.error or 'parity failed'}"
        for name, form in forms.items()
        if not form.passed
    ]
    notes.extend(render("errors.note.not_served", line=line) for line in failed)
    if manifest.get("served") == "keras" and is_keras(target.family):
        notes.append(render("errors.note.keras_serves"))
    return forms


def _measure_settings(
    target: _Target,
    wanted: list[int],
    serving_dir: Path,
    config: LatencyConfig,
    say: Progress,
) -> dict[str, SettingMeasure]:
    """Each thread setting measured in its own fresh process, one after another."""
    from slm_core.runtime.measure import measure_in_subprocess

    all_threads = thread_count(None)
    start = 0.4 if is_keras(target.family) else 0.15
    step = (0.95 - start) / len(wanted)
    settings: dict[str, SettingMeasure] = {}
    for i, n in enumerate(wanted):
        say(start + i * step, f"measuring with {n} thread{'s' if n > 1 else ''}")
        measured = measure_in_subprocess(
            target.model_dir, target.texts, n, serving_dir=serving_dir, config=config
        )
        settings[setting_key(n, all_threads)] = SettingMeasure.from_dict(measured)
    return settings


def _with_stored_settings(
    store, run_id: int, settings: dict[str, SettingMeasure]
) -> dict[str, SettingMeasure]:
    """The run's stored settings (of this result version) updated with the new ones."""
    previous = store.get_result(run_id, BENCH_KIND) or {}
    if previous.get("version") != BENCH_VERSION:
        return settings
    kept = {
        str(k): SettingMeasure.from_dict(v) for k, v in (previous.get("settings") or {}).items()
    }
    return {**kept, **settings}


def _serving_energy(
    primary: SettingMeasure, settings: dict[str, SettingMeasure]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """This machine's CPU power and the energy of 1M predictions (CodeCarbon's method)."""
    from slm_core.energy import cpu_power

    power = cpu_power().to_dict()
    peak = max(s.peak_rss_bytes or 0 for s in settings.values())
    ram = cost.ram_watts(peak / 2**30 if peak else 0.0)
    mean_ms = primary.latency_ms("mean")
    energy = cost.inference_kwh_per_million(
        primary.cpu_seconds_per_prediction,
        (mean_ms or 0.0) / 1000.0 if primary.latency is not None else None,
        float(power["watts_per_thread"]),
        float(ram.value),
    ).to_dict()
    energy["ram"] = ram.to_dict()
    energy["estimate"] = not power.get("rapl", False)
    return power, energy


def _bench_report(
    target: _Target,
    settings: dict[str, SettingMeasure],
    forms: dict[str, ExportedForm],
    notes: list[str],
) -> BenchReport:
    """The report of the measured settings, with energy, size and parameters."""
    primary = settings.get(SINGLE) or settings[next(iter(settings))]
    power, energy = _serving_energy(primary, settings)
    run = target.run
    n_params = (run.metrics or {}).get("n_params") or target.meta.get("n_params")
    return BenchReport(
        run_id=run.id,
        model_id=run.model_id,
        family=target.family,
        form=str(primary.form),
        parity=primary.parity,
        forms=forms,
        settings=settings,
        artifact_bytes=primary.artifact_bytes,
        artifact_files=dict(primary.artifact_files),
        n_params=int(n_params) if n_params is not None else None,
        cpu=power,
        energy=energy,
        train_energy=_train_energy(run, target.family, power, float(energy["ram"]["value"])),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        host=_host(),
        notes=tuple(notes),
    )


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
    say = progress or (lambda fraction, message: None)
    target = _target(store, run_id, max_texts)
    all_threads = thread_count(None)
    wanted = [1, all_threads] if threads is None else [int(threads)]
    wanted = list(dict.fromkeys(max(1, w) for w in wanted))
    notes: list[str] = []
    forms: dict[str, ExportedForm] = {}

    say(0.0, "waiting for other measurements to finish")
    with _bench_lock(store.home):
        if store.list_runs(statuses=("running",)):
            notes.append(render("errors.note.training_active"))
        serving_dir = default_serving_dir(target.model_dir)
        forms = _exported_forms(target, serving_dir, reexport, say, notes)
        settings = _measure_settings(target, wanted, serving_dir, config or default_config(), say)
    if threads is not None:
        settings = _with_stored_settings(store, run_id, settings)
    say(0.96, "computing energy")
    report = _bench_report(target, settings, forms, notes)
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


def _parity_lines(report: BenchReport) -> list[str]:
    parity = report.parity or {}
    if not parity.get("n"):
        return []
    delta, accuracy = parity.get("accuracy_delta"), parity.get("accuracy")
    reference = "Keras" if is_keras(report.family) else "scikit-learn"
    return [
        f"Parity with {reference} on {parity['n']:,} test texts: agreement "
        f"{parity.get('agreement', 0):.2%}, accuracy change "
        f"{'—' if delta is None else f'{delta * 100:+.2f} points'}, largest probability "
        f"difference {parity.get('max_abs_diff', 0):.2g} "
        f"({'passed' if parity.get('passed') else 'FAILED'}); served accuracy "
        f"{'—' if accuracy is None else f'{accuracy:.2%}'}"
    ]


def _settings_table(report: BenchReport) -> list[str]:
    """One row per thread setting: load, first call, percentiles, throughput, memory."""
    header = f"{'threads':<14}{'load ms':>9}{'first ms':>9}{'p50':>9}{'p90':>9}{'p95':>9}"
    header += f"{'p99':>9}{'calls':>7}{'/s @32':>10}{'/s @256':>10}{'vec %':>7}{'peak RSS':>12}"
    lines = [header]
    for key, s in report.settings.items():
        lat = s.latency_ms
        lines.append(
            f"{key:<14}{_ms(s.load_ms):>9}{_ms(s.first_call_ms):>9}"
            f"{_ms(lat('p50')):>9}{_ms(lat('p90')):>9}{_ms(lat('p95')):>9}"
            f"{_ms(lat('p99')):>9}{lat('n_calls') or 0:>7}"
            f"{s.texts_per_second(32) or 0:>10,.0f}"
            f"{s.texts_per_second(256) or 0:>10,.0f}"
            f"{(s.vectorize_share or 0) * 100:>6.1f}%"
            f"{_mb(s.peak_rss_bytes):>12}"
        )
    lines.append("(latency in ms per single text, raw text in, label and probabilities out)")
    return lines


def _money_lines(report: BenchReport, a) -> list[str]:
    """Size, CPU time and the yearly serving cost of the scenario's volume in every mode."""
    from slm_core.value.serving import money_summary

    cpu_s = report.primary.cpu_seconds_per_prediction
    money = money_summary(report.to_dict(), a)
    n_params = f"{report.n_params:,}" if report.n_params else "—"
    lines = [f"Artifact: {_mb(report.artifact_bytes)} · parameters: {n_params}"]
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
    return lines


def _energy_lines(report: BenchReport) -> list[str]:
    lines = []
    energy = report.energy_kwh_per_million
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
    return lines


def format_bench(report: BenchReport, assumptions=None) -> str:
    """A readable summary of a benchmark (the CLI's table), with the serving cost of the
    scenario's volume in every serving mode."""
    from slm_core.value.assumptions import Assumptions

    runtime = f"{report.runtime} ({report.primary.runtime_version or '?'})"
    lines = [
        f"Run {report.run_id} · {report.model_id} ({report.family}) · served by {runtime}",
        *_parity_lines(report),
        "",
        *_settings_table(report),
        "",
        *_money_lines(report, assumptions or Assumptions()),
        *_energy_lines(report),
    ]
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
        raise SlmError("errors.runtime_bench.no_run_chosen")
    if background_job(store) is not None:
        raise SlmError("errors.runtime_bench.already_running")
    for run_id in run_ids:
        store.put_result(
            run_id, PROGRESS_KIND, {"status": "queued", "fraction": 0.0, "message": "queued"}
        )
    from slm_core.runtime.measure import child_env
    from slm_core.store.processes import spawn_detached

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
    pid = spawn_detached(command, Path(store.home) / "logs" / "bench.log", env, "bench")
    # Written here, not only by the child, so a page rerun a moment later already sees it.
    _write_job(store, list(run_ids), pid)
    return pid


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
