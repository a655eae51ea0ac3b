"""Social value per model: privacy, access, environment, fairness, robustness, explainability,
transparency and user feedback — each from measured inputs, each with its formula.

``SocialInputs`` holds what was measured for one run (cost benchmark, fairness, robustness,
faithfulness, model-card checklist, feedback); ``social_dimensions`` turns it into scored
``Dimension`` records under the user's assumptions (budgets, volume, grid, PUE). Missing
measurements give ``status='not_measured'`` and no score, with a note saying how to get them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from slm_core.value.assumptions import Assumptions
from slm_core.value.scores import (
    Dimension,
    Note,
    score_access,
    score_co2,
    score_faithfulness,
    score_feedback,
    score_gap,
    score_privacy,
    score_robustness,
    score_share,
    wilson_lower,
)

# Groups (or classes) with fewer test items than this are too noisy to compare; listed, not used.
MIN_GROUP_SIZE = 5

# Items of a model card that can be checked from stored data, in display order.
CARD_ITEMS: tuple[str, ...] = (
    "description",
    "training_data",
    "split",
    "parameters",
    "test_metrics",
    "baseline",
    "evaluation_ci",
    "size_and_time",
    "cost_measured",
    "robustness",
    "explanation",
    "intended_use",
)


# ------------------------------------------------------------------- fairness


@dataclass(frozen=True)
class FairnessResult:
    """Worst vs best accuracy across groups, or recall across classes when there are no groups."""

    method: str  # "groups" (fairlearn MetricFrame accuracy) or "per_class_recall"
    by: dict[str, float]
    counts: dict[str, int]
    worst_name: str | None
    worst: float | None
    best_name: str | None
    best: float | None
    gap: float | None
    left_out: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FairnessResult:
        return cls(**{**data, "left_out": tuple(data.get("left_out", ()))})


def _extremes(
    by: dict[str, float], counts: dict[str, int], method: str, left_out
) -> FairnessResult:
    if not by:
        return FairnessResult(method, {}, counts, None, None, None, None, None, tuple(left_out))
    worst_name = min(by, key=by.get)
    best_name = max(by, key=by.get)
    return FairnessResult(
        method=method,
        by=by,
        counts=counts,
        worst_name=worst_name,
        worst=by[worst_name],
        best_name=best_name,
        best=by[best_name],
        gap=by[best_name] - by[worst_name],
        left_out=tuple(left_out),
    )


def fairness_by_group(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    groups: Sequence[str],
    min_size: int = MIN_GROUP_SIZE,
) -> FairnessResult:
    """Accuracy per group with fairlearn's ``MetricFrame``: worst group and largest gap."""
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    groups = [str(g) for g in groups]
    counts = {g: groups.count(g) for g in dict.fromkeys(groups)}
    keep = [i for i, g in enumerate(groups) if counts[g] >= min_size]
    left_out = sorted(g for g, n in counts.items() if n < min_size)
    if len({groups[i] for i in keep}) < 2:
        return _extremes({}, counts, "groups", left_out)
    frame = MetricFrame(
        metrics=accuracy_score,
        y_true=np.asarray([str(y_true[i]) for i in keep]),
        y_pred=np.asarray([str(y_pred[i]) for i in keep]),
        sensitive_features=np.asarray([groups[i] for i in keep]),
    )
    by = {str(k): float(v) for k, v in frame.by_group.items()}
    result = _extremes(by, counts, "groups", left_out)
    # MetricFrame's own between-groups difference is the same gap; keep its figure.
    return FairnessResult(
        **{
            **asdict(result),
            "gap": float(frame.difference(method="between_groups")),
            "left_out": result.left_out,
        }
    )


def fairness_by_class(
    y_true: Sequence[str], y_pred: Sequence[str], min_size: int = MIN_GROUP_SIZE
) -> FairnessResult:
    """Recall per true class: how well each kind of item is served, best vs worst."""
    y_true = [str(y) for y in y_true]
    y_pred = [str(y) for y in y_pred]
    counts: dict[str, int] = {}
    right: dict[str, int] = {}
    for t, p in zip(y_true, y_pred, strict=True):
        counts[t] = counts.get(t, 0) + 1
        right[t] = right.get(t, 0) + (t == p)
    by = {c: right[c] / n for c, n in counts.items() if n >= min_size}
    left_out = sorted(c for c, n in counts.items() if n < min_size)
    return _extremes(by, counts, "per_class_recall", left_out)


def fairness(
    y_true: Sequence[str], y_pred: Sequence[str], groups: Sequence[str] | None = None
) -> FairnessResult:
    """By group when a group column exists (and has two usable groups), else by class."""
    if groups is not None and len({str(g) for g in groups}) >= 2:
        result = fairness_by_group(y_true, y_pred, groups)
        if result.gap is not None:
            return result
    return fairness_by_class(y_true, y_pred)


# --------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SocialInputs:
    """What was measured for one run; ``*_source`` says how ('bench', 'training', 'estimate')."""

    run_id: int = 0
    family: str = "linear"
    size_bytes: int | None = None
    size_source: str | None = None
    peak_rss_bytes: int | None = None
    latency_p50_ms: float | None = None  # single thread
    latency_source: str | None = None
    cpu_seconds_per_prediction: float | None = None
    cpu_source: str | None = None
    energy_kwh_per_million: float | None = None  # measured, before PUE
    train_energy_kwh: float | None = None
    train_energy_source: str | None = None
    train_seconds: float | None = None
    train_threads: int = 1
    script: str = "latin"
    dataset_token_unit: str = "word"
    model_token_unit: str | None = None
    fairness: FairnessResult | None = None
    robustness: dict[str, Any] | None = None  # RobustnessResult.to_dict()
    robustness_note: str | None = None
    faithfulness: dict[str, Any] | None = None  # explain.faithfulness(...)
    explain_method: str | None = None
    explain_note: str | None = None
    card: dict[str, bool] = field(default_factory=dict)
    feedback_rated: int = 0
    feedback_right: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------- dimensions


def _privacy(x: SocialInputs, a: Assumptions) -> Dimension:
    size_mb = x.size_bytes / 1e6 if x.size_bytes is not None else None
    mem_mb = x.peak_rss_bytes / 1e6 if x.peak_rss_bytes is not None else None
    notes = [Note("value.note.offline")]
    if x.size_source == "training":
        notes.append(Note("value.note.size_from_training"))
    if mem_mb is None:
        notes.append(Note("value.note.memory_missing", {"run": x.run_id}))
    score = score_privacy(size_mb, mem_mb, a.device_disk_budget_mb, a.device_memory_budget_mb)
    status = "not_measured" if score is None else ("measured" if mem_mb is not None else "estimate")
    return Dimension(
        "privacy",
        score,
        size_mb,
        "MB",
        status,
        details={
            "size_mb": size_mb,
            "size_source": x.size_source,
            "memory_mb": mem_mb,
            "disk_budget_mb": a.device_disk_budget_mb,
            "memory_budget_mb": a.device_memory_budget_mb,
            "offline": True,
            "fits_disk": None if size_mb is None else size_mb <= a.device_disk_budget_mb,
            "fits_memory": None if mem_mb is None else mem_mb <= a.device_memory_budget_mb,
        },
        notes=tuple(notes),
    )


def language_ok(script: str, model_token_unit: str | None) -> bool:
    """CJK or mixed text needs character tokens; space-delimited text works with either."""
    if model_token_unit is None:
        return True
    return model_token_unit == "char" if script in ("cjk", "mixed") else True


def _access(x: SocialInputs, a: Assumptions) -> Dimension:
    ok = language_ok(x.script, x.model_token_unit)
    score = score_access(x.latency_p50_ms, a.latency_budget_ms, ok)
    notes = (
        []
        if x.latency_p50_ms is not None
        else [Note("value.note.latency_missing", {"run": x.run_id})]
    )
    if not ok:
        notes.append(Note("value.note.language_mismatch"))
    return Dimension(
        "access",
        score,
        x.latency_p50_ms,
        "ms",
        "measured" if score is not None else "not_measured",
        details={
            "p50_ms_single_thread": x.latency_p50_ms,
            "latency_budget_ms": a.latency_budget_ms,
            "script": x.script,
            "token_unit": x.model_token_unit,
            "language_ok": ok,
            "source": x.latency_source,
        },
        notes=tuple(notes),
    )


def inference_kwh_per_million(x: SocialInputs, a: Assumptions) -> tuple[float | None, str | None]:
    """Measured energy per million predictions, or an estimate from CPU-seconds × W per thread."""
    if x.energy_kwh_per_million is not None:
        return x.energy_kwh_per_million, "bench"
    if x.cpu_seconds_per_prediction is not None:
        return x.cpu_seconds_per_prediction * 1e6 * a.cpu_watts_per_thread / 3.6e6, "estimate"
    return None, None


def training_kwh(x: SocialInputs, a: Assumptions) -> tuple[float | None, str | None]:
    """Measured training energy, or train seconds × threads × W per thread (an estimate)."""
    if x.train_energy_kwh is not None:
        return x.train_energy_kwh, x.train_energy_source or "measured"
    if x.train_seconds is not None:
        return x.train_seconds * x.train_threads * a.cpu_watts_per_thread / 3.6e6, "estimate"
    return None, None


def _environment(x: SocialInputs, a: Assumptions) -> Dimension:
    per_m, infer_src = inference_kwh_per_million(x, a)
    train, train_src = training_kwh(x, a)
    notes = []
    if per_m is None:
        notes.append(Note("value.note.energy_missing", {"run": x.run_id}))
        return Dimension(
            "environment",
            None,
            None,
            "kg CO2e/yr",
            "not_measured",
            details={"train_kwh": train, "train_source": train_src},
            notes=tuple(notes),
        )
    inference_kwh = a.annual_volume / 1e6 * per_m
    kwh = (inference_kwh + (train or 0.0)) * a.pue
    kg = kwh * a.grid_gco2_per_kwh / 1000.0
    estimate = infer_src == "estimate" or train_src == "estimate"
    if estimate:
        notes.append(Note("value.note.energy_estimate", {"watts": a.cpu_watts_per_thread}))
    return Dimension(
        "environment",
        score_co2(kg),
        kg,
        "kg CO2e/yr",
        "estimate" if estimate else "measured",
        details={
            "inference_kwh_per_million": per_m,
            "inference_source": infer_src,
            "inference_kwh_per_year": inference_kwh,
            "train_kwh": train,
            "train_source": train_src,
            "pue": a.pue,
            "grid_gco2_per_kwh": a.grid_gco2_per_kwh,
            "grid_region": a.grid_region,
            "kwh_first_year": kwh,
            "volume": a.annual_volume,
        },
        notes=tuple(notes),
    )


def _fairness(x: SocialInputs) -> Dimension:
    f = x.fairness
    if f is None or f.gap is None:
        return Dimension(
            "fairness",
            None,
            None,
            "points",
            "not_measured",
            notes=(Note("value.note.fairness_too_small"),),
        )
    key = "value.note.fairness_groups" if f.method == "groups" else "value.note.fairness_classes"
    return Dimension(
        "fairness",
        score_gap(f.gap),
        f.gap * 100.0,
        "points",
        "measured",
        details=f.to_dict(),
        notes=(Note(key, {"worst": f.worst_name, "best": f.best_name}),),
    )


def _robustness(x: SocialInputs) -> Dimension:
    r = x.robustness
    if not r:
        note = Note(x.robustness_note or "value.note.robustness_missing")
        return Dimension("robustness", None, None, "points", "not_measured", notes=(note,))
    drop = max(0.0, float(r["clean_accuracy"]) - float(r["noisy_accuracy"]))
    return Dimension(
        "robustness",
        score_robustness(drop),
        drop * 100.0,
        "points",
        "measured",
        details=dict(r),
        notes=(Note("value.note.noise_rates", r.get("config", {})),),
    )


def _explainability(x: SocialInputs) -> Dimension:
    f = x.faithfulness or {}
    top, rand = f.get("top_k_drop"), f.get("random_drop")
    if top is None or rand is None:
        note = Note(x.explain_note or "value.note.explain_missing")
        return Dimension(
            "explainability",
            None,
            None,
            "points",
            "not_measured",
            details={"method": x.explain_method},
            notes=(note,),
        )
    notes = (
        Note(
            "value.note.faithfulness",
            {
                "k": f.get("k", 3),
                "n": f.get("n_texts", 0),
                "top": f"{top:.3f}",
                "random": f"{rand:.3f}",
            },
        ),
    )
    return Dimension(
        "explainability",
        score_faithfulness(top, rand),
        100.0 * (top - rand),
        "points",
        "measured",
        details={"method": x.explain_method, **f},
        notes=notes,
    )


def card_checklist(items: dict[str, bool]) -> tuple[float, list[str]]:
    """Share of ``CARD_ITEMS`` present, and the names of those missing."""
    missing = [k for k in CARD_ITEMS if not items.get(k)]
    return (len(CARD_ITEMS) - len(missing)) / len(CARD_ITEMS), missing


def _transparency(x: SocialInputs) -> Dimension:
    share, missing = card_checklist(x.card)
    return Dimension(
        "transparency",
        score_share(share),
        share * 100.0,
        "%",
        "measured",
        details={"items": {k: bool(x.card.get(k)) for k in CARD_ITEMS}, "missing": missing},
    )


def _feedback(x: SocialInputs) -> Dimension:
    if x.feedback_rated <= 0:
        return Dimension(
            "feedback", None, None, "%", "not_measured", notes=(Note("value.note.no_feedback"),)
        )
    share = x.feedback_right / x.feedback_rated
    return Dimension(
        "feedback",
        score_feedback(x.feedback_right, x.feedback_rated),
        share * 100.0,
        "%",
        "measured",
        details={
            "rated": x.feedback_rated,
            "right": x.feedback_right,
            "wilson_lower": wilson_lower(x.feedback_right, x.feedback_rated),
        },
        notes=(Note("value.note.feedback_count", {"n": x.feedback_rated}),),
    )


def social_dimensions(x: SocialInputs, a: Assumptions) -> dict[str, Dimension]:
    """All eight social dimensions of one model, in ``SOCIAL_DIMENSIONS`` order."""
    return {
        "privacy": _privacy(x, a),
        "access": _access(x, a),
        "environment": _environment(x, a),
        "fairness": _fairness(x),
        "robustness": _robustness(x),
        "explainability": _explainability(x),
        "transparency": _transparency(x),
        "feedback": _feedback(x),
    }
