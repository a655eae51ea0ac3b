"""Social value of every option — each small model as served, the hosted LLM API, the cascade —
on one basis: privacy, access, environment, fairness, robustness, explainability, transparency
and user feedback, each with its formula (``value.formula.<dimension>`` in the catalogue).

``SocialBasis`` holds what one option's scores rest on; ``social_dimensions`` scores it under the
user's assumptions. Each score can fail: where the text goes, latency and size against budgets,
energy per text against a hosted LLM's on a log scale, and robustness and explanations relative
to what the model achieves above chance (a model at chance scores 0). A dimension that was not
measured scores None; the scorecard then leaves it out for every option, with a note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from slm_core.value.assumptions import Assumptions
from slm_core.value.scores import (
    Dimension,
    Note,
    score_above_chance,
    score_budget,
    score_energy,
    score_gap,
    score_share,
)

# Groups (or classes) with fewer test items than this are too noisy to compare (the Value page
# passes the scenario's ``min_group_size``).
MIN_GROUP_SIZE = 5

# Transparency items, each 0–1, in display order; they differ by family (see ``transparency``).
TRANSPARENCY_ITEMS: tuple[str, ...] = (
    "weights_owned",
    "training_data_known",
    "explanations",
    "evaluated_here",
    "model_card",
    "cost_measured",
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
        # Field by field rather than ``asdict``'s deep copy: every option's fairness details are
        # built again at each step of the sensitivity search.
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**out, "by": dict(self.by), "counts": dict(self.counts)}

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
    y_true: Sequence[str],
    y_pred: Sequence[str],
    groups: Sequence[str] | None = None,
    min_size: int = MIN_GROUP_SIZE,
) -> FairnessResult:
    """By group when a group column exists (and has two usable groups), else by class."""
    if groups is not None and len({str(g) for g in groups}) >= 2:
        result = fairness_by_group(y_true, y_pred, groups, min_size)
        if result.gap is not None:
            return result
    return fairness_by_class(y_true, y_pred, min_size)


# --------------------------------------------------------------------- basis


@dataclass(frozen=True)
class SocialBasis:
    """What one option's social scores rest on (None = not measured).

    ``where`` gives the share of texts processed on the user's device, on a server the
    organisation runs, and outside it (a hosted API); ``latency_ms`` is what a user waits for
    one answer as served; ``robustness`` holds clean and noisy accuracy and the chance level;
    ``faithfulness`` the ERASER figures of ``slm_core.explain.Faithfulness`` (the AOPC
    comprehensiveness gain over random tokens and its interval, sufficiency, the mean
    confidence on full texts) and the chance confidence 1 ÷ classes.
    """

    option: str
    family: str  # "linear", "neural" or "api"
    where: dict[str, float]
    artifact_mb: float | None = None
    memory_mb: float | None = None
    latency_ms: float | None = None
    language_ok: bool = True
    wh_per_text: float | None = None
    fairness: FairnessResult | None = None
    robustness: dict[str, float] | None = None
    faithfulness: dict[str, Any] | None = None
    # Why robustness or faithfulness is missing (a check that failed, say): a note key.
    robustness_note: str | None = None
    explain_note: str | None = None
    transparency: dict[str, float] = field(default_factory=dict)
    feedback_rated: int = 0
    feedback_right: int = 0
    measured_kind: str = "measured"  # "assumed" for the hosted API

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def language_ok(script: str, model_token_unit: str | None) -> bool:
    """CJK or mixed text needs character tokens; space-delimited text works with either."""
    if model_token_unit is None:
        return True
    return model_token_unit == "char" if script in ("cjk", "mixed") else True


def transparency_items(
    family: str, *, card_written: bool, cost_source: str | None, evaluated: bool = True
) -> dict[str, float]:
    """Items that differ by family: weights you own, exact (linear) or approximate (occlusion)
    explanations, training data and test figures known here, a written card, measured cost."""
    if family == "api":
        return {
            "weights_owned": 0.0,
            "training_data_known": 0.0,
            "explanations": 0.0,
            "evaluated_here": 1.0 if evaluated else 0.0,
            "model_card": 0.0,
            "cost_measured": 1.0,  # published token prices × this dataset's text lengths
        }
    return {
        "weights_owned": 1.0,
        "training_data_known": 1.0,
        "explanations": 1.0 if family == "linear" else 0.5,
        "evaluated_here": 1.0 if evaluated else 0.0,
        "model_card": 1.0 if card_written else 0.0,
        "cost_measured": {"bench": 1.0, "fallback": 0.5}.get(cost_source or "", 0.0),
    }


# ---------------------------------------------------------------- dimensions


def _privacy(x: SocialBasis, a: Assumptions) -> Dimension:
    w = x.where
    score = 100.0 * w.get("device", 0.0) + a.privacy_own_server * w.get("own_server", 0.0)
    return Dimension(
        "privacy",
        score,
        100.0 * w.get("outside", 0.0),
        "% sent outside",
        "assumed",
        details={"where": dict(w), "own_server_score": a.privacy_own_server},
    )


def _access(x: SocialBasis, a: Assumptions) -> Dimension:
    if x.family == "api":  # needs the network and an account; nothing to install on a device
        parts = [0.0, 0.0, score_budget(x.latency_ms, a.latency_budget_ms)]
    else:
        parts = [
            score_budget(x.artifact_mb, a.device_disk_budget_mb),
            score_budget(x.memory_mb, a.device_memory_budget_mb),
            score_budget(x.latency_ms, a.latency_budget_ms),
        ]
    known = [p for p in parts if p is not None]
    factor = 1.0 if x.language_ok else a.language_penalty
    score = None if not known else factor * sum(known) / len(known)
    notes = [] if x.language_ok else [Note("value.note.language_mismatch")]
    if x.latency_ms is None and x.family != "api":
        notes.append(Note("value.note.latency_missing", {"option": x.option}))
    return Dimension(
        "access",
        score,
        x.latency_ms,
        "ms",
        x.measured_kind if score is not None else "not_measured",
        details={
            "disk_mb": x.artifact_mb,
            "memory_mb": x.memory_mb,
            "latency_ms": x.latency_ms,
            "parts": parts,
            "language_ok": x.language_ok,
            "language_factor": factor,
        },
        notes=tuple(notes),
    )


def _environment(x: SocialBasis, a: Assumptions) -> Dimension:
    score = score_energy(x.wh_per_text, a.llm_wh_per_query, a.energy_score_decades)
    kind = "assumed" if x.family == "api" else "modelled"
    return Dimension(
        "environment",
        score,
        x.wh_per_text,
        "Wh/text",
        kind if score is not None else "not_measured",
        details={"llm_wh_per_query": a.llm_wh_per_query, "decades": a.energy_score_decades},
        notes=() if score is not None else (Note("value.note.energy_missing"),),
    )


def _fairness(x: SocialBasis, a: Assumptions) -> Dimension:
    f = x.fairness
    if f is None or f.gap is None:
        note = (
            "value.note.not_measured_api" if x.family == "api" else "value.note.fairness_too_small"
        )
        return Dimension("fairness", None, None, "points", "not_measured", notes=(Note(note),))
    key = "value.note.fairness_groups" if f.method == "groups" else "value.note.fairness_classes"
    return Dimension(
        "fairness",
        score_gap(f.gap, a.fairness_gap_zero),
        f.gap * 100.0,
        "points",
        "measured",
        details=f.to_dict(),
        notes=(Note(key, {"worst": f.worst_name, "best": f.best_name}),),
    )


def _robustness(x: SocialBasis, a: Assumptions) -> Dimension:
    r = x.robustness
    if not r:
        note = (
            "value.note.not_measured_api"
            if x.family == "api"
            else x.robustness_note or "value.note.robustness_missing"
        )
        return Dimension("robustness", None, None, "points", "not_measured", notes=(Note(note),))
    clean, noisy, chance = r["clean_accuracy"], r["noisy_accuracy"], r["chance"]
    return Dimension(
        "robustness",
        score_above_chance(noisy - chance, clean - chance),
        100.0 * (clean - noisy),
        "points",
        "measured",
        details=dict(r),
        notes=(
            Note("value.note.noise_rates", r.get("config", {})),
            *_sample_notes(r, "robustness"),
        ),
    )


def _sample_notes(r: dict[str, Any], check: str) -> tuple[Note, ...]:
    """The note saying a check was measured on fewer texts than usual, sized by the model's
    measured cost (``budget`` in its details, :mod:`slm_core.value.check_budget`)."""
    b = r.get("budget") or (r.get("extra") or {}).get("budget")
    if not isinstance(b, dict):
        return ()
    ci = (r.get("extra") or {}).get("drop_ci") or [float("nan")] * 2
    values = {
        "n": int(b.get("n", 0)),
        "wanted": int(b.get("wanted", 0)),
        "ms": f"{1000 * float(b.get('seconds_per_text', 0)):.1f}",
        "probe": int(b.get("probe_texts", 0)),
        "seconds": f"{float(b.get('estimated_seconds', 0)):.0f}",
        "calls": f"{float(b.get('calls_per_text', 0)):.0f}",
        "drop": f"{100 * (r.get('clean_accuracy', 0) - r.get('noisy_accuracy', 0)):.1f}",
        "low": f"{100 * float(ci[0]):.1f}",
        "high": f"{100 * float(ci[1]):.1f}",
    }
    return (Note(f"value.note.{check}_sampled", values),)


def _faithfulness_figures(f: dict[str, Any]) -> dict[str, float] | None:
    """The ERASER figures the score reads, or None when any is missing (a result stored by an
    earlier method, or one with no usable texts: not measured, never a crash)."""
    names = ("comprehensiveness_gain", "full_confidence", "chance")
    ci = f.get("comprehensiveness_gain_ci")
    try:
        out = {k: float(f[k]) for k in names}
        low, high = float(ci[0]), float(ci[1])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if not all(math.isfinite(v) for v in (*out.values(), low, high)):
        return None
    return {**out, "low": low, "high": high}


def _explainability(x: SocialBasis) -> Dimension:
    f = x.faithfulness or {}
    figures = _faithfulness_figures(f)
    if figures is None:
        note = (
            "value.note.not_measured_api"
            if x.family == "api"
            else x.explain_note or "value.note.explain_missing"
        )
        return Dimension(
            "explainability", None, None, "points", "not_measured", notes=(Note(note),)
        )
    gain, full, chance = (
        figures["comprehensiveness_gain"],
        figures["full_confidence"],
        figures["chance"],
    )
    # Above random only when the whole interval is: otherwise the explanations are scored 0.
    above = figures["low"] > 0
    notes = [
        Note(
            "value.note.faithfulness",
            {
                "n": f.get("n_texts", 0),
                "comp": f"{f.get('comprehensiveness', 0.0):.3f}",
                "random_comp": f"{f.get('random_comprehensiveness', 0.0):.3f}",
                "suff": f"{f.get('sufficiency', 0.0):.3f}",
                "random_suff": f"{f.get('random_sufficiency', 0.0):.3f}",
                "gain": f"{gain:.3f}",
                "low": f"{figures['low']:.3f}",
                "high": f"{figures['high']:.3f}",
                "level": f"{float(f.get('level', 0.95)):.0%}",
                "full": f"{full:.3f}",
                "chance": f"{chance:.3f}",
            },
        )
    ]
    if f.get("method") in ("linear", "occlusion"):
        notes.append(Note(f"value.note.faithfulness_{f['method']}"))
    if not above:
        notes.append(Note("value.note.faithfulness_not_above_random"))
    notes.extend(_sample_notes(f, "faithfulness"))
    return Dimension(
        "explainability",
        score_above_chance(gain, full - chance) if above else 0.0,
        100.0 * gain,
        "points",
        "measured",
        details=dict(f),
        notes=tuple(notes),
    )


def _transparency(x: SocialBasis) -> Dimension:
    items = x.transparency
    share = sum(items.values()) / len(items) if items else None
    missing = [k for k in TRANSPARENCY_ITEMS if items.get(k, 0.0) < 1.0]
    return Dimension(
        "transparency",
        score_share(share),
        None if share is None else 100.0 * share,
        "%",
        x.measured_kind if share is not None else "not_measured",
        details={"items": dict(items), "missing": missing},
    )


def _feedback(x: SocialBasis, a: Assumptions) -> Dimension:
    minimum = int(round(a.feedback_min_ratings))
    if x.feedback_rated <= 0 or x.feedback_rated < minimum:
        key = "value.note.no_feedback" if x.feedback_rated <= 0 else "value.note.feedback_scarce"
        return Dimension(
            "feedback",
            None,
            None if x.feedback_rated <= 0 else 100.0 * x.feedback_right / x.feedback_rated,
            "%",
            "not_measured",
            details={"rated": x.feedback_rated, "right": x.feedback_right, "minimum": minimum},
            notes=(Note(key, {"n": x.feedback_rated, "minimum": minimum}),),
        )
    share = x.feedback_right / x.feedback_rated
    return Dimension(
        "feedback",
        score_share(share),
        100.0 * share,
        "%",
        "measured",
        details={"rated": x.feedback_rated, "right": x.feedback_right, "minimum": minimum},
        notes=(Note("value.note.feedback_count", {"n": x.feedback_rated}),),
    )


def social_dimensions(x: SocialBasis, a: Assumptions) -> dict[str, Dimension]:
    """All eight social dimensions of one option, in ``SOCIAL_DIMENSIONS`` order."""
    return {
        "privacy": _privacy(x, a),
        "access": _access(x, a),
        "environment": _environment(x, a),
        "fairness": _fairness(x, a),
        "robustness": _robustness(x, a),
        "explainability": _explainability(x),
        "transparency": _transparency(x),
        "feedback": _feedback(x, a),
    }


def _mixed_items(own: Dimension, api: Dimension, share: float) -> dict[str, Any]:
    """Transparency items of a cascade: each item weighted by the share each part answers."""
    a, b = own.details.get("items"), api.details.get("items")
    if not a or not b:
        return {}
    return {"items": {k: share * a[k] + (1 - share) * b.get(k, 0.0) for k in a}}


def mixed_dimensions(
    own: dict[str, Dimension], api: dict[str, Dimension], share: float
) -> dict[str, Dimension]:
    """A cascade's dimensions: the small model's for the ``share`` it answers, the API's else.

    A dimension missing for either part is missing for the cascade.
    """
    out = {}
    for key, d in own.items():
        other = api[key]
        both = d.score is not None and other.score is not None
        score = share * d.score + (1 - share) * other.score if both else None
        values = d.value is not None and other.value is not None
        kind = (
            "not_measured"
            if not both
            else ("assumed" if "assumed" in (d.kind, other.kind) else d.kind)
        )
        out[key] = Dimension(
            key,
            score,
            share * d.value + (1 - share) * other.value if values else None,
            d.unit,
            kind,
            details={
                "small_model_share": share,
                "small_model": d.score,
                "api": other.score,
                **_mixed_items(d, other, share),
            },
            notes=d.notes + tuple(n for n in other.notes if n not in d.notes),
        )
    return out
