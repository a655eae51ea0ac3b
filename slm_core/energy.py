"""Energy of training runs (CodeCarbon, offline) and this machine's CPU power per CodeCarbon.

``track_training`` wraps CodeCarbon's ``OfflineEmissionsTracker``, which works with no network.
It tracks this process only (``tracking_mode="process"``) with PUE 1.0, so its kWh are IT energy
(the Value and Cost pages apply PUE themselves). On a machine without readable RAPL counters
(most VMs, this one included) CodeCarbon estimates CPU power from its TDP table, or 4 W per
thread when the CPU is not in the table: those figures are estimates, and say so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from slm_core.cost import cpu_watts_per_thread

DEFAULT_COUNTRY = "USA"
log = logging.getLogger(__name__)


def _quiet_codecarbon() -> None:
    # CodeCarbon warns about every unknown CPU and logs at INFO on every measurement; its
    # logger module reads this variable on import and resets the level.
    os.environ.setdefault("CODECARBON_LOG_LEVEL", "error")
    logging.getLogger("codecarbon").setLevel(logging.ERROR)


@dataclass(frozen=True)
class CpuPower:
    """CodeCarbon's view of this machine's CPU power."""

    model: str
    logical_cpus: int
    tdp_watts: float | None  # from CodeCarbon's table; None when the CPU is not in it
    watts_per_thread: float
    method: str
    rapl: bool  # readable RAPL counters (measured, not estimated, CPU energy)

    @property
    def estimate(self) -> bool:
        return not self.rapl

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "logical_cpus": self.logical_cpus,
            "tdp_watts": self.tdp_watts,
            "watts_per_thread": self.watts_per_thread,
            "method": self.method,
            "rapl": self.rapl,
            "estimate": self.estimate,
        }


@cache
def cpu_power() -> CpuPower:
    """This CPU's model and power per busy thread, from CodeCarbon's TDP table or fallback."""
    _quiet_codecarbon()
    logical = os.cpu_count() or 1
    model, tdp, rapl = "Unknown", None, False
    try:
        from codecarbon.core import cpu as cc_cpu
        from codecarbon.core.util import count_cpus, detect_cpu_model

        _quiet_codecarbon()  # its logger module resets the level on import
        logical = int(count_cpus() or logical)
        model = detect_cpu_model() or "Unknown"
        if model != "Unknown":
            tdp = cc_cpu.TDP()._get_cpu_power_from_registry(model)
        rapl = bool(cc_cpu.is_rapl_available())
    except Exception as exc:  # codecarbon missing or changed: fall back to its documented 4 W
        log.warning("CodeCarbon CPU lookup failed (%s); using 4 W per thread.", exc)
    figure = cpu_watts_per_thread(float(tdp) if tdp else None, logical)
    return CpuPower(
        model=model,
        logical_cpus=logical,
        tdp_watts=float(tdp) if tdp else None,
        watts_per_thread=float(figure.value),
        method=figure.method,
        rapl=rapl,
    )


@dataclass(frozen=True)
class TrainingEnergy:
    """Energy and emissions CodeCarbon recorded for one training run (IT energy, PUE 1.0)."""

    kwh: float
    cpu_kwh: float
    ram_kwh: float
    co2e_kg: float
    seconds: float
    country_iso_code: str
    cpu_model: str
    cpu_power_watts: float
    ram_power_watts: float
    tracking_mode: str
    estimate: bool  # True unless CPU energy came from RAPL counters
    method: str = "codecarbon"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kwh": self.kwh,
            "cpu_kwh": self.cpu_kwh,
            "ram_kwh": self.ram_kwh,
            "co2e_kg": self.co2e_kg,
            "seconds": self.seconds,
            "country_iso_code": self.country_iso_code,
            "cpu_model": self.cpu_model,
            "cpu_power_watts": self.cpu_power_watts,
            "ram_power_watts": self.ram_power_watts,
            "tracking_mode": self.tracking_mode,
            "estimate": self.estimate,
            "includes_pue": False,
            "method": self.method,
        }


class EnergyMeter:
    """What :func:`track_training` yields: ``result`` is filled when the block ends."""

    def __init__(self) -> None:
        self.result: TrainingEnergy | None = None
        self.error: str | None = None

    def metrics(self) -> dict[str, Any]:
        """Flat keys for a run's metrics (``train_energy_kwh`` ...); empty if nothing measured."""
        if self.result is None:
            return {}
        r = self.result
        return {
            "train_energy_kwh": r.kwh,
            "train_co2e_kg": r.co2e_kg,
            "train_energy": r.to_dict(),
        }


@contextlib.contextmanager
def track_training(
    country_iso_code: str = DEFAULT_COUNTRY, measure_power_secs: float = 5.0
) -> Iterator[EnergyMeter]:
    """Meter the enclosed block with CodeCarbon; never raises because of CodeCarbon.

    Example::

        with track_training("USA") as meter:
            model.fit(...)
        metrics.update(meter.metrics())  # train_energy_kwh, train_co2e_kg, train_energy
    """
    meter = EnergyMeter()
    tracker = None
    started = time.perf_counter()
    try:
        _quiet_codecarbon()
        from codecarbon import OfflineEmissionsTracker

        _quiet_codecarbon()
        tracker = OfflineEmissionsTracker(
            country_iso_code=country_iso_code,
            tracking_mode="process",
            measure_power_secs=measure_power_secs,
            save_to_file=False,
            log_level="error",
            pue=1.0,
        )
        tracker.start()
    except Exception as exc:
        meter.error = f"CodeCarbon could not start: {exc}"
        tracker = None
    try:
        yield meter
    finally:
        if tracker is not None:
            try:
                emissions = tracker.stop()
                data = tracker.final_emissions_data
                meter.result = TrainingEnergy(
                    kwh=float(data.energy_consumed),
                    cpu_kwh=float(data.cpu_energy),
                    ram_kwh=float(data.ram_energy),
                    co2e_kg=float(emissions or 0.0),
                    seconds=float(data.duration or time.perf_counter() - started),
                    country_iso_code=str(data.country_iso_code or country_iso_code),
                    cpu_model=str(data.cpu_model),
                    cpu_power_watts=float(data.cpu_power),
                    ram_power_watts=float(data.ram_power),
                    tracking_mode=str(data.tracking_mode),
                    estimate=not cpu_power().rapl,
                )
            except Exception as exc:
                meter.error = f"CodeCarbon could not measure: {exc}"
