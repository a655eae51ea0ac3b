"""Business and social scorecards for every finished run of a dataset, from the run store.

Two steps, so the page can re-score instantly as the user edits assumptions:

1. ``collect_inputs(store, dataset_id)`` gathers what was measured per run (test predictions,
   cost benchmark, fairness, robustness under seeded noise, explanation faithfulness, model-card
   checklist, feedback). Robustness and faithfulness need the model, so they are computed once
   and cached in the store as the run's 'robustness' / 'faithfulness' results.
2. ``evaluate_value(inputs, assumptions)`` is pure and cheap: business figures, dimension
   scores, the recommendation and the sensitivity search.

``build_scorecards`` does both. ``ValueReport.to_dict()`` holds every input, so any figure can
be recomputed by hand.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slm_core.errors import NotFoundError, SlmError
from slm_core.value.assumptions import SOCIAL_DIMENSIONS, Assumptions
from slm_core.value.business import (
    BusinessResult,
    TextLengths,
    ThresholdTable,
    llm_business,
    model_business,
    text_lengths,
    threshold_table,
)
from slm_core.value.robustness import (
    ROBUSTNESS_KIND,
    ROBUSTNESS_VERSION,
    NoiseConfig,
    robustness_check,
)
from slm_core.value.scores import (
    Dimension,
    Note,
    Recommendation,
    Sensitivity,
    Weighted,
    overall_score,
    recommend,
    score_net_value,
    score_payback,
    score_roi,
    score_share,
    sensitivity,
    weighted_score,
)
from slm_core.value.social import SocialInputs, fairness, social_dimensions

log = logging.getLogger(__name__)

BENCH_KIND = "bench"
FAITHFULNESS_KIND = "faithfulness"
FAITHFULNESS_VERSION = 1
# Faithfulness blanks tokens and re-predicts; neural models pay per variant, so fewer texts.
FAITHFULNESS_TEXTS = {"linear": 100, "neural": 30}
NOISE_SEED = 0


# ------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class RunInputs:
    """Everything measured about one finished run that the value figures use."""

    run_id: int
    model_id: str
    label: str
    family: str
    table: ThresholdTable
    cpu_seconds_per_prediction: float | None
    cpu_source: str  # "bench", "fallback" or "not_measured"
    social: SocialInputs
    accuracy: float | None = None
    bench: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "label": self.label,
            "family": self.family,
            "accuracy": self.accuracy,
            "cpu_seconds_per_prediction": self.cpu_seconds_per_prediction,
            "cpu_source": self.cpu_source,
            "bench": self.bench,
            "n_test": self.table.n_test,
            "classes": list(self.table.classes),
            "social": self.social.to_dict(),
        }


@dataclass(frozen=True)
class DatasetInputs:
    """The measured inputs of all finished runs of one dataset."""

    dataset_id: str
    dataset_name: str
    script: str
    token_unit: str
    lengths: TextLengths
    classes: tuple[str, ...]
    prior: tuple[float, ...]
    runs: tuple[RunInputs, ...]
    skipped: tuple[tuple[int, str], ...] = ()
    has_groups: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "script": self.script,
            "token_unit": self.token_unit,
            "text_lengths": self.lengths.to_dict(),
            "classes": list(self.classes),
            "class_prior": list(self.prior),
            "has_groups": self.has_groups,
            "runs": [r.to_dict() for r in self.runs],
            "skipped": [list(s) for s in self.skipped],
        }


def run_label(run_id: int, model_id: str) -> str:
    """A short column name for a run, e.g. '#3 tfidf_lr'."""
    return f"#{run_id} {model_id}"


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def single_thread_p50(bench: Mapping[str, Any] | None) -> float | None:
    """Single-thread p50 latency (ms) from a bench result, whichever way it nests it."""
    if not bench:
        return None
    latency = bench.get("latency_ms") or {}
    if isinstance(latency, Mapping):
        for key in ("single_thread", "1_thread", "threads_1", "one_thread", "1", "single"):
            block = latency.get(key)
            if isinstance(block, Mapping) and block.get("p50") is not None:
                return _num(block["p50"])
        if latency.get("p50") is not None and str(bench.get("threads", "")) == "1":
            return _num(latency["p50"])
    block = bench.get("single_thread")
    if isinstance(block, Mapping):
        return single_thread_p50({**block, "threads": 1})
    return None


def _bench_figures(bench: Mapping[str, Any] | None) -> dict[str, float | None]:
    bench = bench or {}
    single = bench.get("single_thread") if isinstance(bench.get("single_thread"), Mapping) else {}

    def pick(key: str) -> float | None:
        return _num(bench.get(key, single.get(key)))

    return {
        "cpu_seconds_per_prediction": pick("cpu_seconds_per_prediction"),
        "artifact_bytes": pick("artifact_bytes"),
        "peak_rss_bytes": pick("peak_rss_bytes"),
        "energy_kwh_per_million": pick("energy_kwh_per_million"),
        "train_energy_kwh": pick("train_energy_kwh"),
        "latency_p50_ms": single_thread_p50(bench),
    }


def _load_model(store, run_id: int):
    from slm_core.models.registry import load_model

    return load_model(store.artifact_dir(run_id) / "model")


def _robustness(store, run, preds, model_loader) -> tuple[dict | None, str | None]:
    """The run's cached robustness result, computed once with its model if missing."""
    config = NoiseConfig()
    cached = store.get_result(run.id, ROBUSTNESS_KIND)
    if (
        cached
        and cached.get("version") == ROBUSTNESS_VERSION
        and cached.get("seed") == NOISE_SEED
        and cached.get("config") == config.to_dict()
    ):
        return cached, None
    if model_loader is None:
        return None, "value.note.robustness_missing"
    try:
        model = model_loader()
    except (SlmError, ImportError, OSError) as exc:
        log.warning("run %s: cannot load the model for robustness: %s", run.id, exc)
        return None, "value.note.model_unavailable"
    result = robustness_check(model, preds.texts, preds.y_true, config, seed=NOISE_SEED)
    data = result.to_dict()
    store.put_result(run.id, ROBUSTNESS_KIND, data)
    return data, None


def _faithfulness(store, run, preds, family, token_unit, model_loader):
    """(result, method, note): explain.faithfulness on a sample of test texts, cached."""
    method = "linear" if family == "linear" else "occlusion"
    try:
        from slm_core import explain
    except ImportError:
        return None, None, "value.note.explain_module_missing"
    cached = store.get_result(run.id, FAITHFULNESS_KIND)
    if (
        cached
        and cached.get("gain") is not None
        and cached.get("value_version") == FAITHFULNESS_VERSION
    ):
        return cached, cached.get("method", method), None
    if model_loader is None:
        return None, method, "value.note.explain_missing"
    try:
        model = model_loader()
    except (SlmError, ImportError, OSError):
        return None, method, "value.note.model_unavailable"
    limit = FAITHFULNESS_TEXTS.get(family, 30)
    texts = [t for t in preds.texts if t.strip()][:limit]
    result = dict(explain.faithfulness(model, texts, k=3, seed=0, token_unit=token_unit))
    result["value_version"] = FAITHFULNESS_VERSION
    store.put_result(run.id, FAITHFULNESS_KIND, result)
    return result, result.get("method", method), None


def _card(store, run, dataset, bench, robustness, faith) -> dict[str, bool]:
    """Which model-card items the stored data can fill for this run."""
    from slm_core.models.registry import MODEL_IDS

    m = run.metrics or {}
    card = store.get_result(run.id, "model_card") or {}
    return {
        "description": run.model_id in MODEL_IDS,
        "training_data": bool(dataset.report.get("classes")) and dataset.rows > 0,
        "split": "split_sizes" in m and "split_seed" in m,
        "parameters": bool(run.params) or bool(run.preset),
        "test_metrics": "accuracy" in m and "macro_f1" in m,
        "baseline": "majority_rate" in m,
        "evaluation_ci": store.get_result(run.id, "evaluation") is not None,
        "size_and_time": m.get("model_size_bytes") is not None and run.train_seconds is not None,
        "cost_measured": bench is not None,
        "robustness": robustness is not None,
        "explanation": faith is not None and faith.get("gain") is not None,
        "intended_use": bool(card.get("intended_use")),
    }


def _model_token_unit(store, run) -> str | None:
    try:
        from slm_core.models.registry import read_meta

        return read_meta(store.artifact_dir(run.id) / "model").get("token_unit")
    except (SlmError, OSError, ValueError):
        return None


def collect_inputs(store, dataset_id: str, *, measure: bool = True, progress=None) -> DatasetInputs:
    """Gather the measured inputs of every finished run of ``dataset_id``.

    With ``measure``, robustness and faithfulness missing from the store are computed now (the
    model is loaded once per run) and stored; without it they stay 'not measured'.
    ``progress(i, n, label)`` is called before each run.
    """
    from slm_core.models.registry import LINEAR_IDS
    from slm_core.train import load_test_predictions

    dataset = store.get_dataset(dataset_id)
    report = dataset.report or {}
    frame = store.load_frame(dataset_id)
    lengths = text_lengths(frame["text"].astype(str).tolist())
    counts = report.get("classes") or frame["label"].astype(str).value_counts().to_dict()
    classes = tuple(str(c) for c in counts)
    total = sum(counts.values()) or 1
    prior = tuple(float(counts[c]) / total for c in counts)
    script = report.get("script", "latin")
    token_unit = report.get("token_unit", "word")
    feedback = store.feedback_summary(dataset_id)
    runs = sorted(
        store.list_runs(dataset_id=dataset_id, statuses=("succeeded",)), key=lambda r: r.id
    )
    out: list[RunInputs] = []
    skipped: list[tuple[int, str]] = []
    has_groups = False
    for i, run in enumerate(runs):
        label = run_label(run.id, run.model_id)
        if progress is not None:
            progress(i, len(runs), label)
        try:
            preds = load_test_predictions(store, run.id)
        except NotFoundError as exc:
            skipped.append((run.id, str(exc)))
            continue
        family = "linear" if run.model_id in LINEAR_IDS else "neural"
        loaded: dict[str, Any] = {}

        def loader(run_id: int = run.id, loaded: dict = loaded):
            if "model" not in loaded:
                loaded["model"] = _load_model(store, run_id)
            return loaded["model"]

        model_loader = loader if measure else None
        bench = store.get_result(run.id, BENCH_KIND)
        figures = _bench_figures(bench)
        robustness, rob_note = _robustness(store, run, preds, model_loader)
        model_unit = _model_token_unit(store, run) or token_unit
        faith, method, explain_note = _faithfulness(
            store, run, preds, family, model_unit, model_loader
        )
        loaded.clear()
        cpu = figures["cpu_seconds_per_prediction"]
        cpu_source = "bench" if cpu is not None else "not_measured"
        if cpu is None and robustness and robustness.get("cpu_seconds_per_prediction"):
            cpu, cpu_source = float(robustness["cpu_seconds_per_prediction"]), "fallback"
        size = figures["artifact_bytes"]
        size_source = "bench" if size is not None else None
        if size is None and (run.metrics or {}).get("model_size_bytes") is not None:
            size, size_source = float(run.metrics["model_size_bytes"]), "training"
        metrics = run.metrics or {}
        train_energy = figures["train_energy_kwh"]
        train_energy_source = "bench" if train_energy is not None else None
        if train_energy is None and _num(metrics.get("train_energy_kwh")) is not None:
            train_energy, train_energy_source = float(metrics["train_energy_kwh"]), "training"
        has_groups = has_groups or preds.groups is not None
        fb = feedback.get(run.id, {})
        social = SocialInputs(
            run_id=run.id,
            family=family,
            size_bytes=int(size) if size is not None else None,
            size_source=size_source,
            peak_rss_bytes=int(figures["peak_rss_bytes"]) if figures["peak_rss_bytes"] else None,
            latency_p50_ms=figures["latency_p50_ms"],
            latency_source="bench" if figures["latency_p50_ms"] is not None else None,
            cpu_seconds_per_prediction=cpu,
            cpu_source=cpu_source,
            energy_kwh_per_million=figures["energy_kwh_per_million"],
            train_energy_kwh=train_energy,
            train_energy_source=train_energy_source,
            train_seconds=run.train_seconds,
            # Linear models train on one thread; Keras uses every core.
            train_threads=1 if family == "linear" else (os.cpu_count() or 1),
            script=script,
            dataset_token_unit=token_unit,
            model_token_unit=model_unit,
            fairness=fairness(preds.y_true, preds.y_pred, preds.groups),
            robustness=robustness,
            robustness_note=rob_note,
            faithfulness=faith,
            explain_method=method,
            explain_note=explain_note,
            card=_card(store, run, dataset, bench, robustness, faith),
            feedback_rated=int(fb.get("rated", 0)),
            feedback_right=int(fb.get("right", 0)),
        )
        out.append(
            RunInputs(
                run_id=run.id,
                model_id=run.model_id,
                label=label,
                family=family,
                table=threshold_table(preds.y_true, preds.proba, preds.classes),
                cpu_seconds_per_prediction=cpu,
                cpu_source=cpu_source,
                social=social,
                accuracy=_num(metrics.get("accuracy")),
                bench=bench,
            )
        )
    return DatasetInputs(
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        script=script,
        token_unit=token_unit,
        lengths=lengths,
        classes=classes,
        prior=prior,
        runs=tuple(out),
        skipped=tuple(skipped),
        has_groups=has_groups,
    )


# ------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Scorecard:
    """One model's business and social dimensions, scores and overall score."""

    run_id: int | None  # None for the LLM-API alternative
    model_id: str
    label: str
    business: BusinessResult
    business_dims: dict[str, Dimension]
    social_dims: dict[str, Dimension]
    business_score: Weighted
    social_score: Weighted
    overall: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "label": self.label,
            "business": self.business.to_dict(),
            "business_dims": {k: d.to_dict() for k, d in self.business_dims.items()},
            "social_dims": {k: d.to_dict() for k, d in self.social_dims.items()},
            "business_score": self.business_score.to_dict(),
            "social_score": self.social_score.to_dict(),
            "overall": self.overall,
        }


@dataclass(frozen=True)
class ValueReport:
    """All scorecards of a dataset under one set of assumptions, with every input."""

    dataset_id: str
    dataset_name: str
    assumptions: Assumptions
    scorecards: tuple[Scorecard, ...]
    llm: Scorecard | None
    recommendation: Recommendation
    sensitivity: Sensitivity | None
    inputs: DatasetInputs
    thresholds: dict[int, float] = field(default_factory=dict)

    def card(self, run_id: int) -> Scorecard:
        for c in self.scorecards:
            if c.run_id == run_id:
                return c
        raise NotFoundError("errors.scorecard.run_no_scorecard_dataset", run_id=run_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "assumptions": self.assumptions.to_dict(),
            "threshold_overrides": {str(k): v for k, v in self.thresholds.items()},
            "scorecards": [c.to_dict() for c in self.scorecards],
            "llm_alternative": self.llm.to_dict() if self.llm else None,
            "recommendation": self.recommendation.to_dict(),
            "sensitivity": self.sensitivity.to_dict() if self.sensitivity else None,
            "inputs": self.inputs.to_dict(),
        }


def business_dimensions(
    b: BusinessResult, cost_source: str, assumed: bool = False, run_id: int | None = None
) -> dict:
    """The five business dimensions of a BusinessResult, scored."""
    status = "assumed" if assumed else ("measured" if cost_source == "bench" else "estimate")
    notes: tuple[Note, ...] = ()
    if cost_source == "not_measured":
        notes = (Note("value.note.inference_excluded", {"run": run_id}),)
    elif cost_source == "fallback":
        notes = (Note("value.note.cpu_fallback"),)
    elif assumed:
        notes = (Note("value.note.llm_assumed"),)
    details = {"threshold": b.threshold, "threshold_source": b.threshold_source}
    return {
        "net_value": Dimension(
            "net_value",
            score_net_value(b.net_value, b.manual_cost),
            b.net_value,
            "money/yr",
            status,
            details={**details, "manual_cost": b.manual_cost},
            notes=notes,
        ),
        "roi": Dimension(
            "roi",
            score_roi(b.roi),
            None if b.roi is None else 100 * b.roi,
            "%",
            status,
            details=details,
            notes=notes,
        ),
        "payback": Dimension(
            "payback",
            score_payback(b.payback_months),
            b.payback_months,
            "months",
            status,
            details=details,
            notes=notes,
        ),
        "automation": Dimension(
            "automation",
            score_share(b.coverage),
            100 * b.coverage,
            "%",
            "assumed" if assumed else "measured",
            details=details,
        ),
        "automated_accuracy": Dimension(
            "automated_accuracy",
            score_share(b.automated_accuracy),
            None if b.automated_accuracy is None else 100 * b.automated_accuracy,
            "%",
            "assumed" if assumed else "measured",
            details=details,
            notes=(Note("value.note.llm_assumed"),) if assumed else (),
        ),
    }


def _score_run(r: RunInputs, a: Assumptions, threshold: float | None) -> Scorecard:
    business = model_business(
        r.label, r.table, a, r.cpu_seconds_per_prediction, r.cpu_source, threshold
    )
    bdims = business_dimensions(business, r.cpu_source, run_id=r.run_id)
    sdims = social_dimensions(r.social, a)
    bscore = weighted_score({k: d.score for k, d in bdims.items()}, a.business_weights)
    sscore = weighted_score({k: d.score for k, d in sdims.items()}, a.social_weights)
    return Scorecard(
        run_id=r.run_id,
        model_id=r.model_id,
        label=r.label,
        business=business,
        business_dims=bdims,
        social_dims=sdims,
        business_score=bscore,
        social_score=sscore,
        overall=overall_score(bscore.score, sscore.score, a.business_share),
    )


def _overall_by_run(
    inputs: DatasetInputs, a: Assumptions, thresholds: Mapping[int, float]
) -> dict[str, float | None]:
    return {r.label: _score_run(r, a, thresholds.get(r.run_id)).overall for r in inputs.runs}


def evaluate_value(
    inputs: DatasetInputs,
    assumptions: Assumptions,
    thresholds: Mapping[int, float] | None = None,
    *,
    with_sensitivity: bool = True,
) -> ValueReport:
    """Score every run of ``inputs`` under ``assumptions`` (pure; no store, no model)."""
    a = assumptions
    thresholds = {int(k): float(v) for k, v in (thresholds or {}).items()}
    cards = tuple(_score_run(r, a, thresholds.get(r.run_id)) for r in inputs.runs)
    llm = None
    if inputs.classes:
        lb = llm_business(a, inputs.lengths, inputs.classes, inputs.prior)
        ldims = business_dimensions(lb, "api_prices", assumed=True)
        lscore = weighted_score({k: d.score for k, d in ldims.items()}, a.business_weights)
        llm = Scorecard(None, lb.name, a.llm_name, lb, ldims, {}, lscore, Weighted(None, 0.0), None)
    overall = {c.label: c.overall for c in cards}
    rec = recommend(overall)
    sens = None
    if with_sensitivity and len(cards) >= 2 and rec.winner is not None:
        sens = sensitivity(lambda x: _overall_by_run(inputs, x, thresholds), a)
    return ValueReport(
        dataset_id=inputs.dataset_id,
        dataset_name=inputs.dataset_name,
        assumptions=a,
        scorecards=cards,
        llm=llm,
        recommendation=rec,
        sensitivity=sens,
        inputs=inputs,
        thresholds=thresholds,
    )


def build_scorecards(
    store,
    dataset_id: str,
    assumptions: Assumptions | None = None,
    *,
    thresholds: Mapping[int, float] | None = None,
    measure: bool = True,
    with_sensitivity: bool = True,
) -> ValueReport:
    """Scorecards for every finished run of ``dataset_id`` (see module docstring)."""
    inputs = collect_inputs(store, dataset_id, measure=measure)
    return evaluate_value(
        inputs, assumptions or Assumptions(), thresholds, with_sensitivity=with_sensitivity
    )


# -------------------------------------------------------------------- text


def note_text(note: Note, lang: str = "en") -> str:
    from slm_core.i18n import t

    return t(note.key, lang, **note.params) if note.params else t(note.key, lang)


def format_figure(dim: Dimension, currency: str = "USD", lang: str = "en") -> str:
    """A dimension's headline figure with its unit ('not measured' when there is none)."""
    from slm_core.i18n import format_money, t

    if dim.value is None:
        return t("value.not_measured", lang)
    if dim.unit == "money/yr":
        return format_money(dim.value, currency, lang) + t("value.per_year", lang)
    if dim.unit == "months":
        return f"{dim.value:.1f} " + t("value.unit.months", lang)
    if dim.unit in ("%", "points"):
        return f"{dim.value:.1f}" + ("%" if dim.unit == "%" else " " + t("value.unit.points", lang))
    if dim.unit == "MB":
        return f"{dim.value:.2f} MB"
    if dim.unit == "ms":
        return f"{dim.value:.2f} ms"
    if dim.unit == "kg CO2e/yr":
        if dim.value < 1:
            return f"{dim.value * 1000:.3g} g CO2e" + t("value.per_year", lang)
        return f"{dim.value:,.3g} kg CO2e" + t("value.per_year", lang)
    return f"{dim.value:.3f}"


def recommendation_text(report: ValueReport, lang: str = "en") -> str:
    """'With your weights, X is the best balance: …' (or why there is no recommendation)."""
    from slm_core.i18n import format_money, t

    rec = report.recommendation
    if rec.winner is None:
        return t("value.rec.none", lang)
    card = next(c for c in report.scorecards if c.label == rec.winner)
    b = card.business
    text = t(
        "value.rec.winner",
        lang,
        model=rec.winner,
        overall=f"{rec.winner_score:.0f}",
        business=_fmt_score(card.business_score.score),
        social=_fmt_score(card.social_score.score),
        coverage=f"{b.coverage:.0%}",
        threshold=f"{b.threshold:.2f}",
        net=format_money(b.net_value, report.assumptions.currency, lang),
    )
    if rec.runner_up is not None:
        text += " " + t(
            "value.rec.runner_up", lang, model=rec.runner_up, overall=f"{rec.runner_up_score:.0f}"
        )
    return text


def _fmt_score(score: float | None) -> str:
    return "–" if score is None else f"{score:.0f}"


def sensitivity_text(report: ValueReport, lang: str = "en") -> str:
    """The assumption that would change the winner, and at what value."""
    from slm_core.i18n import t

    s = report.sensitivity
    if s is None:
        return t("value.sens.not_run", lang)
    if s.field is None:
        return t("value.sens.stable", lang, factor=f"{s.factor:g}")
    return t(
        "value.sens.line",
        lang,
        field=t(f"value.field.{s.field}", lang),
        value=f"{s.value:,.4g}",
        current=f"{s.current:,.4g}",
        unit=""
        if report.assumptions.unit(s.field) in ("0–1", "×")
        else report.assumptions.unit(s.field),
        new=s.new_winner,
        direction=t("value.sens.up" if s.value > s.current else "value.sens.down", lang),
    )


def format_value_report(report: ValueReport, lang: str = "en") -> str:
    """Both scorecards of every run as plain text (for the CLI)."""
    from slm_core.i18n import format_money, t

    a = report.assumptions
    cards = list(report.scorecards)
    lines = [
        t(
            "value.cli.header",
            lang,
            name=report.dataset_name,
            id=report.dataset_id,
            scenario=a.name,
        ),
        t(
            "value.cli.assumptions",
            lang,
            volume=f"{a.annual_volume:,.0f}",
            minutes=f"{a.minutes_per_item:g}",
            wage=format_money(a.hourly_labour_cost, a.currency, lang, 2),
        ),
    ]
    if not cards:
        lines.append(t("value.no_runs", lang))
        return "\n".join(lines)
    columns = cards + ([report.llm] if report.llm else [])
    width = max(14, *(len(c.label) for c in columns))
    head = f"{'':<26}" + "".join(f"{c.label:>{width + 2}}" for c in columns)

    def row(name: str, values: list[str]) -> str:
        return f"{name:<26}" + "".join(f"{v:>{width + 2}}" for v in values)

    lines += ["", t("value.business_title", lang), head]
    b_rows = [
        (
            "value.row.threshold",
            lambda c: "–" if c.business.threshold is None else f"{c.business.threshold:.2f}",
        ),
        ("value.row.coverage", lambda c: f"{c.business.coverage:.1%}"),
        ("value.row.labour_saved", lambda c: format_money(c.business.labour_saved, a.currency)),
        ("value.row.error_cost", lambda c: format_money(c.business.error_cost, a.currency)),
        (
            "value.row.inference_cost",
            lambda c: (
                "n/m"
                if c.business.inference_cost is None
                else format_money(c.business.inference_cost, a.currency, digits=2)
            ),
        ),
        ("value.row.net_value", lambda c: format_money(c.business.net_value, a.currency)),
        ("value.row.roi", lambda c: "–" if c.business.roi is None else f"{c.business.roi:.0%}"),
        (
            "value.row.payback",
            lambda c: (
                t("value.never", lang)
                if c.business.payback_months is None
                else f"{c.business.payback_months:.1f}"
            ),
        ),
    ]
    for key, fn in b_rows:
        lines.append(row(t(key, lang)[:25], [fn(c) for c in columns]))
    lines.append(
        row(
            t("value.row.business_score", lang)[:25],
            [_fmt_score(c.business_score.score) for c in columns],
        )
    )
    lines += [
        "",
        t("value.social_title", lang),
        f"{'':<26}" + "".join(f"{c.label:>{width + 2}}" for c in cards),
    ]
    for key in SOCIAL_DIMENSIONS:
        values = []
        for c in cards:
            d = c.social_dims[key]
            values.append("n/m" if d.score is None else f"{d.score:.0f}")
        lines.append(
            f"{t(f'value.dim.{key}', lang)[:25]:<26}" + "".join(f"{v:>{width + 2}}" for v in values)
        )
    lines.append(
        f"{t('value.row.social_score', lang)[:25]:<26}"
        + "".join(f"{_fmt_score(c.social_score.score):>{width + 2}}" for c in cards)
    )
    lines.append(
        f"{t('value.row.overall', lang)[:25]:<26}"
        + "".join(f"{_fmt_score(c.overall):>{width + 2}}" for c in cards)
    )
    lines += ["", recommendation_text(report, lang), sensitivity_text(report, lang)]
    missing = [c for c in cards if c.business.inference_source != "bench"]
    if missing:
        lines.append(
            t(
                "value.note.bench_missing_cli",
                lang,
                runs=", ".join(c.label for c in missing),
                run=missing[0].run_id,
            )
        )
    fallback = [c.label for c in cards if c.business.inference_source == "fallback"]
    if fallback:
        lines.append(t("value.cpu_fallback_warning", lang, runs=", ".join(fallback)))
    lines.append(t("value.cli.scores_help", lang))
    return "\n".join(lines)
