"""Business value per model: automation at a confidence threshold, yearly money, ROI, payback.

The model answers an item alone when its top-class probability reaches the threshold; people
handle the rest (and are assumed to get them right). Everything is scaled from the test split to
the yearly volume:

- automated per year  A = V × coverage(τ)
- labour saved        L = A × minutes/60 × hourly cost
- value of right calls C = V × (right automated test items / n_test) × value per correct
- error cost          E = V × Σ_(t,p) confusion_τ[t,p] × cost[t,p] / n_test
                      (confusion of the *automated* test items only)
- inference cost      I = V × CPU-seconds per prediction / 3600 × price per vCPU-hour
                      (the model scores every item, automated or not)
- net value per year  N = L + C − E − I − maintenance
- ROI, first year     (N − set-up) / (set-up + E + I + maintenance)
- payback months      12 × set-up / N (never when N ≤ 0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slm_core.curves import DEFAULT_THRESHOLDS, coverage_curve
from slm_core.value.assumptions import Assumptions

LLM_NAME = "llm_api"
# The ranges of slm_core.text.is_cjk_char, as one regex (a Python loop per character is slow).
_CJK_RE = re.compile(
    "[\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002fa1f\uf900-\ufaff"
    "\u3040-\u30ff\uac00-\ud7af\u3000-\u303f]"
)
# Confidence exactly at the threshold counts as answered (same rule as curves.coverage_curve).
_EPS = 1e-12


def cost_matrix(a: Assumptions, classes: Sequence[str]) -> np.ndarray:
    """Cost of one automated answer per (true row, predicted column); 0 on the diagonal.

    Simple mode: with a declared ``positive_class``, predicting it wrongly costs the
    false-positive cost and missing it the false-negative cost (one-vs-rest when there are more
    than two classes); every other error costs ``cost_other_error``. Matrix mode: pairs given
    in ``payoff_matrix`` override the simple-mode cost.
    """
    k = len(classes)
    costs = np.full((k, k), float(a.cost_other_error))
    positive = a.positive_class
    if positive and positive in classes:
        p = list(classes).index(positive)
        costs[:, p] = a.cost_false_positive
        costs[p, :] = a.cost_false_negative
    if a.payoff_mode == "matrix":
        index = {c: i for i, c in enumerate(classes)}
        for true, row in a.payoff_matrix.items():
            for pred, cost in row.items():
                if true in index and pred in index:
                    costs[index[true], index[pred]] = float(cost)
    np.fill_diagonal(costs, 0.0)
    return costs


@dataclass(frozen=True)
class ThresholdTable:
    """Per confidence threshold: coverage, accuracy and the confusion of the automated items.

    It depends only on the test predictions, so value figures for any assumptions are cheap.
    """

    classes: tuple[str, ...]
    thresholds: np.ndarray  # (T,)
    coverage: np.ndarray  # (T,) share of test items answered
    accuracy: np.ndarray  # (T,) accuracy on answered items, NaN when none
    confusion: np.ndarray  # (T, k, k) counts of answered test items
    n_test: int

    def index_of(self, threshold: float) -> int:
        """Index of the largest stored threshold not above ``threshold``."""
        i = int(np.searchsorted(self.thresholds, threshold + 1e-9, side="right") - 1)
        return min(max(i, 0), len(self.thresholds) - 1)


def threshold_table(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> ThresholdTable:
    """Coverage (from ``curves.coverage_curve``) plus the automated confusion per threshold."""
    curve = coverage_curve(y_true, proba, classes, thresholds)
    classes = [str(c) for c in classes]
    extra = sorted({str(y) for y in y_true} - set(classes))
    all_classes = classes + extra  # a test label the model never saw is always an error
    index = {c: i for i, c in enumerate(all_classes)}
    k = len(all_classes)
    proba = np.asarray(proba, dtype=float)
    true_idx = np.array([index[str(y)] for y in y_true], dtype=int)
    pred_idx = proba.argmax(axis=1) if len(true_idx) else np.zeros(0, dtype=int)
    confidence = proba.max(axis=1) if len(true_idx) else np.zeros(0)
    flat = true_idx * k + pred_idx
    confusion = (
        np.stack(
            [
                np.bincount(flat[confidence >= t - _EPS], minlength=k * k).reshape(k, k)
                for t in curve.thresholds
            ]
        )
        if len(curve.thresholds)
        else np.zeros((0, k, k), dtype=int)
    )
    return ThresholdTable(
        classes=tuple(all_classes),
        thresholds=curve.thresholds,
        coverage=curve.coverage,
        accuracy=curve.accuracy,
        confusion=confusion,
        n_test=int(curve.total),
    )


# ------------------------------------------------------------------- formulas


def labour_saved(automated_per_year: float, a: Assumptions) -> float:
    """Yearly labour cost of the items people no longer handle."""
    return automated_per_year * a.minutes_per_item / 60.0 * a.hourly_labour_cost


def manual_cost(a: Assumptions) -> float:
    """Yearly labour cost of handling every item by hand (the ceiling on labour saved)."""
    return labour_saved(a.annual_volume, a)


def error_cost(confusion: np.ndarray, costs: np.ndarray, n_test: int, volume: float) -> float:
    """Yearly cost of automated errors: volume × Σ confusion × cost / n_test."""
    if n_test <= 0:
        return 0.0
    return float(volume * float((np.asarray(confusion) * costs).sum()) / n_test)


def inference_cost(cpu_seconds_per_prediction: float, a: Assumptions) -> float:
    """Yearly compute cost of scoring every item: V × CPU-s / 3600 × price per vCPU-hour."""
    return a.annual_volume * cpu_seconds_per_prediction / 3600.0 * a.price_per_vcpu_hour


def roi(net_value: float, setup: float, running_cost: float) -> float | None:
    """First-year return on investment: (net value − set-up) / (set-up + running cost)."""
    spent = setup + running_cost
    if spent <= 0:
        return None
    return (net_value - setup) / spent


def payback_months(setup: float, net_value: float) -> float | None:
    """Months until the yearly net value repays the set-up cost; None if it never does."""
    if net_value <= 0:
        return None
    return 12.0 * setup / net_value


def net_value_curve(
    table: ThresholdTable, a: Assumptions, cpu_seconds_per_prediction: float | None
) -> np.ndarray:
    """Yearly net value at every threshold of ``table`` (inference counted as 0 if unknown)."""
    costs = cost_matrix(a, table.classes)
    n = max(table.n_test, 1)
    volume = a.annual_volume
    automated = volume * table.coverage
    right = np.trace(table.confusion, axis1=1, axis2=2)
    errors = volume * (table.confusion * costs).sum(axis=(1, 2)) / n
    infer = inference_cost(cpu_seconds_per_prediction or 0.0, a)
    return (
        labour_saved(1.0, a) * automated
        + volume * right / n * a.value_per_correct
        - errors
        - infer
        - a.yearly_maintenance
    )


def best_threshold_index(curve: np.ndarray) -> int:
    """The threshold with the highest net value (the lowest such threshold on ties)."""
    return int(np.argmax(curve))


# -------------------------------------------------------------------- results


@dataclass(frozen=True)
class BusinessResult:
    """One model's (or the LLM API's) yearly business figures at its chosen threshold."""

    name: str
    threshold: float | None  # None for the LLM API: it answers everything
    threshold_source: str  # "optimised", "override" or "none"
    coverage: float
    automated_accuracy: float | None
    automated_per_year: float
    labour_saved: float
    correct_value: float
    error_cost: float
    inference_cost: float | None  # None: not measured (then left out of the net value)
    inference_source: str  # "bench", "fallback", "api_prices" or "not_measured"
    maintenance: float
    setup_cost: float
    net_value: float
    roi: float | None
    payback_months: float | None
    manual_cost: float
    automated_confusion: list[list[int]] = field(default_factory=list)
    classes: tuple[str, ...] = ()
    n_test: int = 0
    curve: dict[str, list[float | None]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def running_cost(self) -> float:
        return self.error_cost + (self.inference_cost or 0.0) + self.maintenance

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self)
        out["running_cost"] = self.running_cost
        return out


def model_business(
    name: str,
    table: ThresholdTable,
    a: Assumptions,
    cpu_seconds_per_prediction: float | None,
    inference_source: str,
    threshold: float | None = None,
) -> BusinessResult:
    """Business figures of one model; the best threshold is found unless ``threshold`` is given."""
    curve = net_value_curve(table, a, cpu_seconds_per_prediction)
    if threshold is None:
        i, source = best_threshold_index(curve), "optimised"
    else:
        i, source = table.index_of(float(threshold)), "override"
    n = max(table.n_test, 1)
    coverage = float(table.coverage[i])
    confusion = table.confusion[i]
    automated = a.annual_volume * coverage
    accuracy = table.accuracy[i]
    labour = labour_saved(automated, a)
    right = float(np.trace(confusion))
    correct_value = a.annual_volume * right / n * a.value_per_correct
    errors = error_cost(confusion, cost_matrix(a, table.classes), table.n_test, a.annual_volume)
    infer = (
        None
        if cpu_seconds_per_prediction is None
        else inference_cost(cpu_seconds_per_prediction, a)
    )
    net = labour + correct_value - errors - (infer or 0.0) - a.yearly_maintenance
    running = errors + (infer or 0.0) + a.yearly_maintenance
    return BusinessResult(
        name=name,
        threshold=float(table.thresholds[i]),
        threshold_source=source,
        coverage=coverage,
        automated_accuracy=None if np.isnan(accuracy) else float(accuracy),
        automated_per_year=automated,
        labour_saved=labour,
        correct_value=correct_value,
        error_cost=errors,
        inference_cost=infer,
        inference_source=inference_source if infer is not None else "not_measured",
        maintenance=a.yearly_maintenance,
        setup_cost=a.setup_cost,
        net_value=float(net),
        roi=roi(net, a.setup_cost, running),
        payback_months=payback_months(a.setup_cost, net),
        manual_cost=manual_cost(a),
        automated_confusion=confusion.astype(int).tolist(),
        classes=table.classes,
        n_test=table.n_test,
        curve={
            "threshold": [float(t) for t in table.thresholds],
            "coverage": [float(c) for c in table.coverage],
            "accuracy": [None if np.isnan(v) else float(v) for v in table.accuracy],
            "net_value": [float(v) for v in curve],
        },
        details={
            "cpu_seconds_per_prediction": cpu_seconds_per_prediction,
            "cost_matrix": cost_matrix(a, table.classes).tolist(),
        },
    )


# ------------------------------------------------------------ LLM alternative


@dataclass(frozen=True)
class TextLengths:
    """Mean characters per text in the dataset, split into CJK and other (spaces included)."""

    mean_cjk_chars: float
    mean_other_chars: float
    n_texts: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean_cjk_chars": self.mean_cjk_chars,
            "mean_other_chars": self.mean_other_chars,
            "n_texts": self.n_texts,
        }


def text_lengths(texts: Sequence[str]) -> TextLengths:
    """Measure the dataset's real text lengths, for API token estimates."""
    cjk = other = 0
    for text in texts:
        text = str(text)
        n_cjk = len(_CJK_RE.findall(text))
        cjk += n_cjk
        other += len(text) - n_cjk
    n = len(texts)
    return TextLengths(cjk / n if n else 0.0, other / n if n else 0.0, n)


def input_tokens_per_item(lengths: TextLengths, a: Assumptions) -> float:
    """Estimated API input tokens: prompt + CJK chars × rate + other chars × rate."""
    return (
        a.llm_prompt_tokens
        + lengths.mean_cjk_chars * a.tokens_per_char_cjk
        + lengths.mean_other_chars * a.tokens_per_char_latin
    )


def llm_cost_per_item(lengths: TextLengths, a: Assumptions) -> float:
    """API price of one answer from its input and output tokens."""
    return (
        input_tokens_per_item(lengths, a) * a.llm_input_price_per_m
        + a.llm_output_tokens * a.llm_output_price_per_m
    ) / 1e6


def mean_error_cost(a: Assumptions, classes: Sequence[str], prior: Sequence[float]) -> float:
    """Expected cost of one error: truth drawn from ``prior``, any wrong answer equally likely."""
    costs = cost_matrix(a, classes)
    k = len(classes)
    if k < 2:
        return 0.0
    per_true = costs.sum(axis=1) / (k - 1)  # diagonal is 0
    prior = np.asarray(prior, dtype=float)
    total = prior.sum()
    return float((per_true * prior).sum() / total) if total > 0 else float(per_true.mean())


def llm_business(
    a: Assumptions, lengths: TextLengths, classes: Sequence[str], prior: Sequence[float]
) -> BusinessResult:
    """The hosted-LLM alternative: answers every item at the *assumed* accuracy."""
    volume = a.annual_volume
    acc = a.llm_accuracy
    labour = labour_saved(volume, a)
    correct_value = volume * acc * a.value_per_correct
    errors = volume * (1.0 - acc) * mean_error_cost(a, classes, prior)
    api = volume * llm_cost_per_item(lengths, a)
    net = labour + correct_value - errors - api - a.yearly_maintenance
    running = errors + api + a.yearly_maintenance
    return BusinessResult(
        name=LLM_NAME,
        threshold=None,
        threshold_source="none",
        coverage=1.0,
        automated_accuracy=acc,
        automated_per_year=volume,
        labour_saved=labour,
        correct_value=correct_value,
        error_cost=errors,
        inference_cost=api,
        inference_source="api_prices",
        maintenance=a.yearly_maintenance,
        setup_cost=a.llm_setup_cost,
        net_value=float(net),
        roi=roi(net, a.llm_setup_cost, running),
        payback_months=payback_months(a.llm_setup_cost, net),
        manual_cost=manual_cost(a),
        classes=tuple(classes),
        details={
            "input_tokens_per_item": input_tokens_per_item(lengths, a),
            "output_tokens_per_item": a.llm_output_tokens,
            "cost_per_item": llm_cost_per_item(lengths, a),
            "mean_error_cost": mean_error_cost(a, classes, prior),
            "class_prior": [float(p) for p in prior],
            "text_lengths": lengths.to_dict(),
            "accuracy_is_assumed": True,
        },
    )
