"""Everything a shareable report shows, gathered once from the run store.

``collect_report`` reads the dataset, every finished run's evaluation (with confidence
intervals), its cost benchmark when the Cost page has measured one, per-group accuracy on the
test split, the newest measurement of the hosted LLM (with the small models scored on its
sample), and the value report (:class:`~slm_core.value.scorecard.ValueReport`: every option
and the decision) under one set of assumptions. The HTML report, the model cards, the CSV/JSON
export and the presentation page all render this one object, and the value report is the one
the Value page shows, so they can never disagree.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slm_core.errors import SlmError
from slm_core.llm import model_runs
from slm_core.numbers import finite_or_none
from slm_core.report.llm_figures import LLMFigures, collect_llm
from slm_core.runtime.bench import BENCH_KIND
from slm_core.runtime.record import BenchReport, SettingMeasure
from slm_core.value.assumptions import Assumptions
from slm_core.value.option import Option, Overrides
from slm_core.value.scorecard import ValueReport

# Packages whose versions a reader needs to reproduce the figures (only those installed).
VERSIONED_PACKAGES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "onnxruntime",
    "ai-edge-litert",
    "fairlearn",
    "codecarbon",
    "plotly",
    "streamlit",
)


def package_versions() -> dict[str, str]:
    """Python, SLM Value Lab and the installed versions of the packages behind the figures."""
    from slm_core import __version__

    out = {"slm-value-lab": __version__, "python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


# ------------------------------------------------------------------- cost


@dataclass(frozen=True)
class CostFigures:
    """One run's measured serving benchmark, read from its 'bench' result (None = not measured).

    Only what was measured: latency, CPU time, size, memory, throughput. What serving costs in
    money follows the scenario's serving mode and volume and comes from the value report
    (``Option.serving``), never from CPU time alone. Read from the stored result as a
    :class:`~slm_core.runtime.record.BenchReport` (which also reads older shapes).
    """

    measured: bool
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    cpu_seconds_per_prediction: float | None = None
    artifact_bytes: float | None = None
    peak_rss_bytes: float | None = None
    energy_kwh_per_million: float | None = None
    runtime: str | None = None
    throughput_32: float | None = None  # texts per second at batch 32 (primary setting)
    throughput_256: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def cost_figures(bench: BenchReport | Mapping[str, Any] | None) -> CostFigures:
    """Read a run's 'bench' result; ``measured`` is False when there is none."""
    report = BenchReport.read(bench)
    if report is None:
        return CostFigures(measured=False)
    single, primary = report.single or SettingMeasure(), report.primary
    return CostFigures(
        measured=True,
        p50_ms=finite_or_none(single.latency_ms("p50")),
        p90_ms=finite_or_none(single.latency_ms("p90")),
        p95_ms=finite_or_none(single.latency_ms("p95")),
        p99_ms=finite_or_none(single.latency_ms("p99")),
        cpu_seconds_per_prediction=finite_or_none(primary.cpu_seconds_per_prediction),
        artifact_bytes=finite_or_none(report.artifact_bytes),
        peak_rss_bytes=finite_or_none(report.peak_rss_bytes),
        energy_kwh_per_million=finite_or_none(report.energy_kwh_per_million),
        runtime=report.runtime,
        throughput_32=finite_or_none(primary.texts_per_second(32)),
        throughput_256=finite_or_none(primary.texts_per_second(256)),
    )


# ------------------------------------------------------------------- runs


@dataclass(frozen=True)
class GroupFigure:
    """Accuracy on the test texts of one group (from the dataset's optional group column)."""

    group: str
    n: int
    accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "n": self.n, "accuracy": self.accuracy}


@dataclass(frozen=True)
class RunFigures:
    """One finished run with its evaluation, cost and per-group results."""

    run: Any  # RunRecord
    evaluation: Any  # EvalResult
    cost: CostFigures
    bench: dict[str, Any] | None = None
    groups: tuple[GroupFigure, ...] = ()

    @property
    def run_id(self) -> int:
        return self.run.id

    @property
    def label(self) -> str:
        """The same column name the Value page uses, e.g. '#3 tfidf_lr'."""
        from slm_core.value.inputs import run_label

        return run_label(self.run.id, self.run.model_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "label": self.label,
            "evaluation": self.evaluation.to_dict(),
            "cost": self.cost.to_dict(),
            "bench": self.bench,
            "groups": [g.to_dict() for g in self.groups],
        }


def group_figures(groups: list[str] | None, y_true: list[str], y_pred: list[str]):
    """Test accuracy per group, largest group first (empty without a group column)."""
    if not groups:
        return ()
    totals: dict[str, list[int]] = {}
    for g, truth, pred in zip(groups, y_true, y_pred, strict=True):
        cell = totals.setdefault(str(g), [0, 0])
        cell[0] += 1
        cell[1] += int(truth == pred)
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return tuple(GroupFigure(g, n, right / n) for g, (n, right) in ordered)


# ----------------------------------------------------------------- report


@dataclass(frozen=True)
class ReportData:
    """The dataset, its evaluated runs, the value report, and when and with what it was made."""

    dataset: Any  # DatasetRecord
    runs: tuple[RunFigures, ...]
    value: ValueReport | None  # None when no run has finished
    generated_at: datetime
    versions: dict[str, str] = field(default_factory=dict)
    skipped: tuple[tuple[int, str], ...] = ()
    llm: LLMFigures | None = None  # the newest LLM measurement, on its sample

    def run(self, run_id: int) -> RunFigures:
        for r in self.runs:
            if r.run_id == run_id:
                return r
        from slm_core.errors import NotFoundError

        raise NotFoundError("errors.report.run_not_in_report", run_id=run_id)

    def option(self, run_id: int) -> Option | None:
        """The run's option in the value report (None when the report has no such run)."""
        if self.value is None:
            return None
        return next((o for o in self.value.models if o.run_id == run_id), None)

    @property
    def decided(self) -> Option | None:
        """The option the decision names (keep it manual, the API, a cascade or a model)."""
        return self.value.best if self.value is not None and self.value.inputs.runs else None

    @property
    def best(self) -> RunFigures | None:
        """The decision's run when it owns a model (alone or in a cascade), else the most
        accurate run."""
        if not self.runs:
            return None
        decided = self.decided
        if decided is not None and decided.kind in ("model", "cascade"):
            for r in self.runs:
                if r.run_id == decided.run_id:
                    return r
        return max(self.runs, key=lambda r: (r.evaluation.accuracy, -r.run_id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dict(),
            "runs": [r.to_dict() for r in self.runs],
            "value": self.value.to_dict() if self.value is not None else None,
            "generated_at": self.generated_at.isoformat(),
            "versions": dict(self.versions),
            "skipped": [list(s) for s in self.skipped],
            "llm": self.llm.to_dict() if self.llm is not None else None,
        }


def collect_report(
    store,
    dataset_id: str,
    assumptions: Assumptions | None = None,
    *,
    overrides: Overrides | None = None,
    value: ValueReport | None = None,
    measure: bool = True,
) -> ReportData:
    """Gather the report of ``dataset_id``: evaluations, measured cost, groups, value report.

    Parameters
    ----------
    assumptions
        The scenario; the defaults when None (as ``value`` on the CLI).
    overrides
        Per-run thresholds and serving modes chosen on the Value page.
    value
        The ``ValueReport`` the pages already show (``ui.decision.value_report``); built with
        ``build_scorecards(store, dataset_id, assumptions, overrides=overrides)`` when None.
    measure
        Let the value report measure robustness and faithfulness that are not stored yet.
    """
    from slm_core.evaluate import evaluate_run
    from slm_core.train import load_test_predictions

    dataset = store.get_dataset(dataset_id)
    runs = sorted(
        model_runs(store.list_runs(dataset_id=dataset.id, statuses=("succeeded",))),
        key=lambda r: r.id,
    )
    figures: list[RunFigures] = []
    skipped: list[tuple[int, str]] = []
    predictions = []  # (run, its test predictions): the small models on the LLM's sample
    for run in runs:
        try:
            evaluation = evaluate_run(store, run.id)
            preds = load_test_predictions(store, run.id)
        except (SlmError, ValueError, OSError) as exc:
            skipped.append((run.id, str(exc)))
            continue
        predictions.append((run, preds))
        bench = store.get_result(run.id, BENCH_KIND)
        figures.append(
            RunFigures(
                run=run,
                evaluation=evaluation,
                cost=cost_figures(bench),
                bench=bench,
                groups=group_figures(preds.groups, preds.y_true, preds.y_pred),
            )
        )
    if value is None and figures:
        from slm_core.value.scorecard import build_scorecards

        value = build_scorecards(
            store,
            dataset.id,
            assumptions or Assumptions(),
            overrides=overrides,
            measure=measure,
        )
    return ReportData(
        dataset=dataset,
        runs=tuple(figures),
        value=value if figures else None,
        generated_at=datetime.now(UTC),
        versions=package_versions(),
        skipped=tuple(skipped),
        llm=collect_llm(store, dataset.id, predictions),
    )
