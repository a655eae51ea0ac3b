"""What a benchmark measured, as typed records: one per thread setting, and the run's report.

:class:`SettingMeasure` is what one measuring process reports at one thread setting (latency,
throughput per batch size, load and first-call time, CPU seconds, memory, vectorisation share,
runtime version); :class:`BenchReport` is everything stored as a run's 'bench' result. Both
write JSON with ``to_dict()`` and read it back with ``from_dict()``, so every reader of a stored
benchmark (the Cost page, the report, the value core) reads these fields instead of the JSON.

Older stored results also load: ones without per-setting blocks (flat keys such as
``cpu_seconds_per_prediction`` or ``latency_ms`` by setting), with a top-level single-thread
block, or with a figure missing (it is None). The flat keys describe the primary setting, the
single-thread one when measured; ``to_dict`` writes them from it.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from slm_core.runtime.export import ExportedForm
from slm_core.runtime.latency import (
    LatencyConfig,
    LatencyReport,
    LatencyStats,
    Throughput,
    timing_dict,
)

BENCH_VERSION = 1
SINGLE = "single_thread"
ALL = "all_threads"
# Names older results gave the single-thread block of their 'latency_ms'.
_SINGLE_ALIASES = (SINGLE, "1_thread", "threads_1", "one_thread", "1", "single")
FORM_NAMES = {
    "litert_f32": "LiteRT float32",
    "litert_int8": "LiteRT dynamic-range int8",
    "onnx": "ONNX Runtime",
    "keras": "Keras (TensorFlow tf.function)",
    "sklearn": "scikit-learn",
}
# Figures of the primary setting that older results stored only as flat keys.
_FLAT_FIGURES = (
    "threads",
    "load_ms",
    "first_call_ms",
    "vectorize_share",
    "cpu_seconds_per_prediction",
    "runtime_version",
)


def setting_key(threads: int, all_threads: int) -> str:
    """Name of a thread setting in the stored result: single_thread, all_threads or threads_N."""
    if threads == 1:
        return SINGLE
    if threads == all_threads:
        return ALL
    return f"threads_{threads}"


@dataclass(frozen=True)
class SettingMeasure:
    """What one measuring process reported about serving a run at one thread setting.

    Latency in ms per single text (raw text in, label and probabilities out); throughput at
    each batch size (keyed by it in the JSON: "32", "256"); memory in bytes of the whole process
    before loading, after loading and at peak. None = not measured (or not stored by an older
    version).
    """

    threads: int | None = None
    form: str | None = None
    load_ms: float | None = None  # the runtime's imports + reading the model
    first_call_ms: float | None = None
    latency: LatencyStats | None = None
    vectorize_ms_mean: float | None = None
    vectorize_share: float | None = None
    cpu_seconds_per_prediction: float | None = None  # process CPU time per single text
    throughput: tuple[Throughput, ...] = ()
    n_texts: int | None = None
    config: LatencyConfig | None = None
    rss_start_bytes: int | None = None
    rss_loaded_bytes: int | None = None
    peak_rss_bytes: int | None = None
    artifact_bytes: int | None = None
    artifact_files: dict[str, int] = field(default_factory=dict)
    parity: dict[str, Any] | None = None
    cpus: tuple[int, ...] | None = None
    runtime_version: str | None = None
    pid: int | None = None

    @classmethod
    def of(cls, report: LatencyReport, **process: Any) -> SettingMeasure:
        """A measuring process's latency report plus what it knows about itself (memory,
        artifact, parity, CPUs, runtime version, pid)."""
        return cls(**{f.name: getattr(report, f.name) for f in fields(report)}, **process)

    def latency_ms(self, name: str) -> float | None:
        """One latency figure in ms ("p50", "p99", "mean" …), None when not measured."""
        return None if self.latency is None else getattr(self.latency, name)

    def rate(self, batch: int | str) -> Throughput | None:
        """Throughput at ``batch`` texts per call, None when not measured."""
        return next((t for t in self.throughput if str(t.batch_size) == str(batch)), None)

    def texts_per_second(self, batch: int | str) -> float | None:
        rate = self.rate(batch)
        return None if rate is None else rate.texts_per_second

    def cpu_seconds_per_text(self, batch: int | str) -> float | None:
        """Process CPU seconds per text at ``batch`` texts per call."""
        rate = self.rate(batch)
        return None if rate is None else rate.cpu_seconds_per_text

    def to_dict(self) -> dict[str, Any]:
        return {
            **timing_dict(self),
            "rss_start_bytes": self.rss_start_bytes,
            "rss_loaded_bytes": self.rss_loaded_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "artifact_bytes": self.artifact_bytes,
            "artifact_files": dict(self.artifact_files),
            "parity": self.parity,
            "cpus": None if self.cpus is None else list(self.cpus),
            "runtime_version": self.runtime_version,
            "pid": self.pid,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SettingMeasure:
        """Read :meth:`to_dict` back (older blocks kept their percentiles at the top level)."""
        latency = data.get("latency_ms")
        if not isinstance(latency, Mapping) and "p50" in data:
            latency = data
        rates = data.get("throughput")
        config = data.get("config")
        cpus = data.get("cpus")
        plain = {"latency", "throughput", "config", "cpus", "artifact_files"}
        return cls(
            **{f.name: data.get(f.name) for f in fields(cls) if f.name not in plain},
            latency=LatencyStats.from_dict(latency) if isinstance(latency, Mapping) else None,
            throughput=_rates(rates),
            config=LatencyConfig.from_dict(config) if isinstance(config, Mapping) else None,
            cpus=None if cpus is None else tuple(cpus),
            artifact_files=dict(data.get("artifact_files") or {}),
        )


def _rates(data: Any) -> tuple[Throughput, ...]:
    """Stored throughput by batch size ("32": {...}, or only texts per second in older ones)."""
    if not isinstance(data, Mapping):
        return ()
    return tuple(Throughput.from_dict(k, v) for k, v in data.items() if str(k).isdigit())


@dataclass(frozen=True)
class BenchReport:
    """Everything measured about serving one run, as stored under the run's 'bench' result.

    ``settings`` maps a thread setting ("single_thread", "all_threads") to what its measuring
    process reported. ``forms`` are the exported forms of a Keras model. Energy excludes PUE.
    """

    run_id: int | None
    model_id: str
    family: str
    form: str
    parity: dict[str, Any] | None
    forms: dict[str, ExportedForm]
    settings: dict[str, SettingMeasure]
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
    def single(self) -> SettingMeasure | None:
        return self.settings.get(SINGLE)

    @property
    def all_threads(self) -> SettingMeasure | None:
        return self.settings.get(ALL)

    @property
    def primary(self) -> SettingMeasure:
        """The single-thread setting, else the first measured (an empty record if none)."""
        return self.single or next(iter(self.settings.values()), SettingMeasure())

    @property
    def runtime(self) -> str | None:
        """The serving runtime's name, e.g. 'ONNX Runtime' (None when not stored)."""
        return FORM_NAMES.get(self.form, self.form) or None

    @property
    def peak_rss_bytes(self) -> int | None:
        """The highest peak memory of any setting's serving process."""
        peaks = [s.peak_rss_bytes for s in self.settings.values() if s.peak_rss_bytes]
        return max(peaks) if peaks else None

    @property
    def energy_kwh_per_million(self) -> float | None:
        return self.energy.get("value")

    def to_dict(self) -> dict[str, Any]:
        primary = self.primary
        return {
            "version": BENCH_VERSION,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "family": self.family,
            "form": self.form,
            "runtime": FORM_NAMES.get(self.form, self.form),
            "runtime_version": primary.runtime_version,
            "parity": self.parity,
            "forms": {k: v.to_dict() for k, v in self.forms.items()},
            "threads": primary.threads,
            "latency_ms": {
                k: s.latency.to_dict() if s.latency else {} for k, s in self.settings.items()
            },
            "settings": {k: s.to_dict() for k, s in self.settings.items()},
            "load_ms": primary.load_ms,
            "first_call_ms": primary.first_call_ms,
            "throughput": {str(t.batch_size): t.texts_per_second for t in primary.throughput},
            "vectorize_share": primary.vectorize_share,
            "cpu_seconds_per_prediction": primary.cpu_seconds_per_prediction,
            "cpu_seconds_per_prediction_batch": primary.cpu_seconds_per_text(256),
            "cpu_seconds_basis": "process CPU time per single-text prediction, 1 thread",
            "artifact_bytes": self.artifact_bytes,
            "artifact_files": self.artifact_files,
            "n_params": self.n_params,
            "peak_rss_bytes": self.peak_rss_bytes,
            "energy_kwh_per_million": self.energy_kwh_per_million,
            "energy_includes_pue": False,
            "energy": self.energy,
            "train_energy_kwh": self.train_energy.get("value"),
            "train_energy_source": self.train_energy.get("source"),
            "train_energy": self.train_energy,
            "cpu": self.cpu,
            "host": self.host,
            "measured_at": self.measured_at,
            "config": None if primary.config is None else primary.config.to_dict(),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchReport:
        """Rebuild a report from a stored 'bench' result, older shapes included."""
        block = data.get(SINGLE)
        flat = ChainMap(dict(data), dict(block) if isinstance(block, Mapping) else {})
        settings = _settings(data)
        primary = SINGLE if SINGLE in settings else next(iter(settings), SINGLE)
        settings[primary] = _with_flat_figures(settings.get(primary, SettingMeasure()), flat)
        peak = flat.get("peak_rss_bytes")  # the highest of the settings' peaks
        if peak is not None and not any(s.peak_rss_bytes for s in settings.values()):
            settings[primary] = replace(settings[primary], peak_rss_bytes=peak)
        energy = dict(data.get("energy") or {})
        if energy.get("value") is None and flat.get("energy_kwh_per_million") is not None:
            energy["value"] = flat["energy_kwh_per_million"]
        run_id = data.get("run_id")
        return cls(
            run_id=None if run_id is None else int(run_id),
            model_id=str(data.get("model_id", "")),
            family=str(data.get("family", "")),
            form=_form(flat, settings[primary]),
            parity=data.get("parity"),
            forms={
                str(k): ExportedForm.from_dict(v)
                for k, v in (data.get("forms") or {}).items()
                if isinstance(v, Mapping)
            },
            settings=settings,
            artifact_bytes=flat.get("artifact_bytes", settings[primary].artifact_bytes),
            artifact_files=dict(data.get("artifact_files") or {}),
            n_params=data.get("n_params"),
            cpu=dict(data.get("cpu") or {}),
            energy=energy,
            train_energy=dict(data.get("train_energy") or {}),
            measured_at=str(data.get("measured_at", "")),
            host=dict(data.get("host") or {}),
            notes=tuple(data.get("notes") or ()),
        )

    @classmethod
    def read(cls, data: BenchReport | Mapping[str, Any] | None) -> BenchReport | None:
        """A stored 'bench' result as a report; None when the run was never measured."""
        if isinstance(data, BenchReport):
            return data
        return cls.from_dict(data) if data else None


def _settings(data: Mapping[str, Any]) -> dict[str, SettingMeasure]:
    """Each setting's record; older results without them give what their latency holds."""
    raw = data.get("settings")
    settings = {
        str(k): SettingMeasure.from_dict(v)
        for k, v in (raw.items() if isinstance(raw, Mapping) else ())
        if isinstance(v, Mapping)
    }
    block = data.get(SINGLE)
    if SINGLE not in settings and isinstance(block, Mapping):
        settings[SINGLE] = SettingMeasure.from_dict(block)
    latency = data.get("latency_ms")
    if not isinstance(latency, Mapping):
        return settings
    by_setting = {SINGLE: latency} if "p50" in latency else latency
    for key, stats in by_setting.items():
        name = SINGLE if key in _SINGLE_ALIASES else str(key)
        setting = settings.get(name, SettingMeasure())
        if isinstance(stats, Mapping) and stats and setting.latency is None:
            settings[name] = replace(setting, latency=LatencyStats.from_dict(stats))
    return settings


def _form(flat: Mapping[str, Any], primary: SettingMeasure) -> str:
    """The serving form; older results may name only its runtime ('ONNX Runtime')."""
    form = flat.get("form") or primary.form
    if form:
        return str(form)
    label = flat.get("runtime") or flat.get("serving_runtime")
    if not isinstance(label, str):
        return ""
    return next((k for k, name in FORM_NAMES.items() if name == label), label)


def _with_flat_figures(setting: SettingMeasure, flat: Mapping[str, Any]) -> SettingMeasure:
    """The primary setting with what it lacks taken from the flat keys (written from it)."""
    changes = {
        name: flat[name]
        for name in _FLAT_FIGURES
        if getattr(setting, name) is None and flat.get(name) is not None
    }
    rates = {t.batch_size: t for t in (*_rates(flat.get("throughput")), *setting.throughput)}
    batch_cpu = flat.get("cpu_seconds_per_prediction_batch")
    if batch_cpu is not None:
        rate = rates.get(256) or Throughput(256, None, None, None, None)
        if rate.cpu_seconds_per_text is None:
            rates[256] = replace(rate, cpu_seconds_per_text=batch_cpu)
    if setting.config is None and isinstance(flat.get("config"), Mapping):
        changes["config"] = LatencyConfig.from_dict(flat["config"])
    return replace(setting, throughput=tuple(rates.values()), **changes)
