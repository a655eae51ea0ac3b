"""A measurement's stored answers read back as figures: accuracy with its interval, tokens,
money and latency as measured, and every small model scored on the same texts.

The LLM answered a sample of the test split, so its accuracy is on that sample (Wilson interval,
the one home in :mod:`slm_core.evaluate`), and a comparison with a small model is paired on the
texts both answered: the small model's stored test predictions, matched by text and label.
Unparseable answers and calls that failed after every retry count as wrong; they are counted
and shown, never mapped to a label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slm_core.errors import NotFoundError, SlmError
from slm_core.i18n import t
from slm_core.llm import LLM_MODEL_ID
from slm_core.llm.client import ERROR, OK, UNPARSEABLE
from slm_core.llm.endpoints import Endpoint
from slm_core.llm.job import read_answers
from slm_core.llm.plan import Plan
from slm_core.llm.prompt import PromptSpec, build_messages, render_messages
from slm_core.mcnemar import McNemarResult, match_rows, mcnemar
from slm_core.resample import wilson_interval

LABEL_PREFIX = "LLM · "  # every LLM measurement's name starts so, on every page and table
# Stand-ins for "no label" in prediction lists; they never equal a real label, so they are wrong.
UNPARSEABLE_LABEL = "<unparseable>"
NO_ANSWER_LABEL = "<no answer>"


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


@dataclass(frozen=True)
class LLMMeasurement:
    """One LLM measurement (finished or in progress) as figures; texts in the order sent."""

    run_id: int
    status: str
    dataset_id: str
    endpoint: Endpoint
    prompt: PromptSpec
    labels: tuple[str, ...]
    n_planned: int
    test_size: int
    positions: tuple[int, ...]  # rows of the test split that have an answer
    texts: tuple[str, ...]
    y_true: tuple[str, ...]
    y_pred: tuple[str, ...]  # a label, UNPARSEABLE_LABEL or NO_ANSWER_LABEL
    statuses: tuple[str, ...]
    contents: tuple[str | None, ...]
    latencies_ms: tuple[float, ...]  # of the answered calls
    input_tokens: float
    output_tokens: float
    usage_reported: bool
    cost_usd: float
    structured: bool
    stopped: str | None = None
    budget_usd: float | None = None
    estimate: dict[str, Any] = field(default_factory=dict)
    example_prompt: str = ""
    examples: int = 0

    # -------------------------------------------------------------- quality

    @property
    def model(self) -> str:
        return self.endpoint.model

    @property
    def label(self) -> str:
        return f"{LABEL_PREFIX}{self.endpoint.model}"

    @property
    def n(self) -> int:
        return len(self.texts)

    @property
    def correct(self) -> np.ndarray:
        return np.asarray([t == p for t, p in zip(self.y_true, self.y_pred, strict=True)], bool)

    @property
    def n_right(self) -> int:
        return int(self.correct.sum())

    @property
    def accuracy(self) -> float:
        return self.n_right / self.n if self.n else float("nan")

    @property
    def accuracy_ci(self) -> tuple[float, float]:
        return wilson_interval(self.n_right, self.n)

    @property
    def unparseable(self) -> int:
        return sum(1 for s in self.statuses if s == UNPARSEABLE)

    @property
    def failed_calls(self) -> int:
        return sum(1 for s in self.statuses if s == ERROR)

    @property
    def majority_rate(self) -> float:
        if not self.n:
            return float("nan")
        _, counts = np.unique(np.asarray(self.y_true), return_counts=True)
        return float(counts.max() / self.n)

    def accuracy_on(self, mask: np.ndarray) -> tuple[float, int, tuple[float, float]]:
        """Accuracy, count and Wilson interval on the texts where ``mask`` is true."""
        mask = np.asarray(mask, bool)
        n = int(mask.sum())
        right = int(self.correct[mask].sum())
        return (right / n if n else float("nan")), n, wilson_interval(right, n)

    # -------------------------------------------------------------- money and time

    @property
    def answered_calls(self) -> int:
        """Calls that came back (a label or an unparseable answer): the ones that used tokens."""
        return self.n - self.failed_calls

    def _per_call(self, total: float) -> float:
        # Failed calls carry no tokens and no money: dividing by them would cheapen every text.
        return total / self.answered_calls if self.answered_calls else 0.0

    @property
    def input_tokens_per_text(self) -> float:
        return self._per_call(self.input_tokens)

    @property
    def output_tokens_per_text(self) -> float:
        return self._per_call(self.output_tokens)

    @property
    def cost_per_text_usd(self) -> float:
        return self._per_call(self.cost_usd)

    @property
    def usd_per_million(self) -> float:
        return self.cost_per_text_usd * 1e6

    @property
    def latency_p50_ms(self) -> float | None:
        return _percentile(self.latencies_ms, 50)

    @property
    def latency_p95_ms(self) -> float | None:
        return _percentile(self.latencies_ms, 95)

    def summary(self) -> dict[str, Any]:
        """The figures stored with the run and printed by the CLI (no texts, no key)."""
        low, high = self.accuracy_ci
        return {
            "model": self.endpoint.model,
            "base_url": self.endpoint.base_url,
            "n": self.n,
            "n_planned": self.n_planned,
            "test_size": self.test_size,
            "accuracy": self.accuracy,
            "accuracy_ci": [low, high],
            "interval": "Wilson 95%",
            "unparseable": self.unparseable,
            "failed_calls": self.failed_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "usage_reported": self.usage_reported,
            "cost_usd": self.cost_usd,
            "cost_per_text_usd": self.cost_per_text_usd,
            "usd_per_million": self.usd_per_million,
            "input_price_per_m": self.endpoint.input_price_per_m,
            "output_price_per_m": self.endpoint.output_price_per_m,
            "price_source": self.endpoint.price_source,
            "price_date": self.endpoint.price_date,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "structured_output": self.structured,
            "prompt_mode": self.prompt.mode,
            "shots_per_label": self.prompt.shots,
            "stopped": self.stopped,
            "budget_usd": self.budget_usd,
            "estimate_usd": self.estimate.get("cost_usd"),
            "kind": "measured",
            "method": t("llm.method.measured"),
        }

    # -------------------------------------------------------------- pairing

    def align(self, texts: Sequence[str], y_true: Sequence[str]) -> np.ndarray:
        """For each answered text, its row in another run's test predictions (-1 if absent).

        Matched by text and label; a text that occurs twice is matched once per occurrence.
        """
        return np.asarray(match_rows(self.texts, self.y_true, texts, y_true), dtype=int)


def load_measurement(store, run_id: int) -> LLMMeasurement:
    """Read a measurement run's plan and answers (NotFoundError before it has a plan)."""
    run = store.get_run(run_id)
    if run.model_id != LLM_MODEL_ID:
        raise SlmError("errors.llm.not_a_measurement", run_id=run_id)
    folder = store.artifact_dir(run_id)
    plan = Plan.load(folder)
    if plan is None:
        raise NotFoundError("errors.llm.no_plan", run_id=run_id)
    endpoint = Endpoint.from_dict(run.params.get("endpoint") or {})
    spec = PromptSpec.from_dict(run.params.get("prompt") or {})
    answers = read_answers(folder)
    order = sorted(answers)
    rows = [answers[i] for i in order]

    def predicted(row: dict[str, Any]) -> str:
        if row.get("status") == OK and row.get("label") is not None:
            return str(row["label"])
        return NO_ANSWER_LABEL if row.get("status") == ERROR else UNPARSEABLE_LABEL

    example = (
        render_messages(build_messages(spec, plan.labels, plan.texts[0], plan.examples))
        if plan.n
        else ""
    )
    return LLMMeasurement(
        run_id=run.id,
        status=run.status,
        dataset_id=run.dataset_id,
        endpoint=endpoint,
        prompt=spec,
        labels=plan.labels,
        n_planned=plan.n,
        test_size=plan.test_size,
        positions=tuple(plan.positions[i] for i in order),
        texts=tuple(plan.texts[i] for i in order),
        y_true=tuple(plan.truth[i] for i in order),
        y_pred=tuple(predicted(r) for r in rows),
        statuses=tuple(str(r.get("status")) for r in rows),
        contents=tuple(r.get("content") for r in rows),
        latencies_ms=tuple(float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None),
        input_tokens=float(sum(float(r.get("input_tokens") or 0) for r in rows)),
        output_tokens=float(sum(float(r.get("output_tokens") or 0) for r in rows)),
        usage_reported=all(bool(r.get("usage_reported")) for r in rows if r.get("status") != ERROR),
        cost_usd=float(sum(float(r.get("cost_usd") or 0) for r in rows)),
        structured=all(r.get("structured", True) for r in rows),
        stopped=(run.metrics.get("llm") or {}).get("stopped"),
        budget_usd=run.params.get("budget_usd"),
        estimate=dict(run.params.get("estimate") or {}),
        example_prompt=example,
        examples=len(plan.examples),
    )


def per_class_on_sample(labels, y_true, y_pred) -> list[dict[str, Any]]:
    """Precision, recall and F1 of each label on the sample (an unparseable answer is no label:
    it lowers its text's recall and no label's precision)."""
    out = []
    for label in labels:
        support = sum(1 for y in y_true if y == label)
        predicted = sum(1 for p in y_pred if p == label)
        right = sum(1 for y, p in zip(y_true, y_pred, strict=True) if y == p == label)
        precision = right / predicted if predicted else 0.0
        recall = right / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append(
            {
                "label": label,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": support,
                "predicted": predicted,
            }
        )
    return out


def sample_scores(m) -> dict[str, Any]:
    """The headline metrics of a measurement over the dataset's labels only.

    An unparseable answer or a failed call is no label: it is a miss for its text's label, never
    a class of its own (which would drag macro-F1 down by a class the data does not have). Like
    scikit-learn, a label counts in macro-F1 only where it occurs in the truth or the answers.
    """
    per_class = per_class_on_sample(m.labels, m.y_true, m.y_pred)
    seen = [p for p in per_class if p["support"] or p["predicted"]]
    supported = [p for p in per_class if p["support"]]
    total = sum(p["support"] for p in per_class)

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    def weighted(name: str) -> float | None:
        return sum(p[name] * p["support"] for p in per_class) / total if total else None

    return {
        "macro_f1": mean([p["f1"] for p in seen]),
        "macro_precision": mean([p["precision"] for p in seen]),
        "macro_recall": mean([p["recall"] for p in seen]),
        "weighted_precision": weighted("precision"),
        "weighted_recall": weighted("recall"),
        "balanced_accuracy": (
            sum(p["recall"] for p in supported) / len(supported) if supported else None
        ),
        "weighted_f1": weighted("f1"),
        "per_class": per_class,
    }


def measurement_metrics(store, run_id: int, stopped: str | None = None) -> dict[str, Any]:
    """The metrics stored with a finished measurement: headline metrics on its sample + 'llm'."""
    m = load_measurement(store, run_id)
    scores = sample_scores(m)
    # The keys of slm_core.metrics.headline_metrics, over the real labels (see sample_scores).
    metrics: dict[str, Any] = {
        "accuracy": m.accuracy,
        "balanced_accuracy": scores["balanced_accuracy"],
        "macro_f1": scores["macro_f1"],
        "weighted_f1": scores["weighted_f1"],
        "majority_rate": m.majority_rate,
        "n_test": m.n,
    }
    summary = m.summary()
    summary["stopped"] = stopped
    metrics.update(
        llm=summary,
        classes=list(m.labels),
        n_params=None,
        model_size_bytes=None,
        sample_size=m.n,
    )
    return metrics


def latest_measurement(store, dataset_id: str) -> LLMMeasurement | None:
    """The newest finished measurement of ``dataset_id``, or None."""
    runs = store.list_runs(dataset_id=dataset_id, statuses=("succeeded",))
    for run in runs:  # newest first
        if run.model_id == LLM_MODEL_ID:
            try:
                return load_measurement(store, run.id)
            except SlmError:
                continue
    return None


# ------------------------------------------------------------------ small models on the sample


@dataclass(frozen=True)
class SampleComparison:
    """A small model and the LLM on the same sampled test texts, paired."""

    run_id: int
    model_id: str
    n: int  # texts both answered
    accuracy: float
    accuracy_ci: tuple[float, float]
    llm_accuracy: float
    llm_accuracy_ci: tuple[float, float]
    test: McNemarResult  # A = the small model, B = the LLM
    missing: int  # sampled texts not in this run's test split (another split seed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "n": self.n,
            "accuracy": self.accuracy,
            "accuracy_ci": list(self.accuracy_ci),
            "llm_accuracy": self.llm_accuracy,
            "llm_accuracy_ci": list(self.llm_accuracy_ci),
            "mcnemar": self.test.to_dict(),
            "missing": self.missing,
        }


def compare_on_sample(m: LLMMeasurement, run_id: int, model_id: str, preds) -> SampleComparison:
    """Score a small model's stored test predictions (``TestPredictions``) on the LLM's texts."""
    rows = m.align(preds.texts, preds.y_true)
    have = rows >= 0
    y = [m.y_true[i] for i in np.flatnonzero(have)]
    small = [preds.y_pred[rows[i]] for i in np.flatnonzero(have)]
    llm = [m.y_pred[i] for i in np.flatnonzero(have)]
    n = len(y)
    right_small = sum(a == b for a, b in zip(y, small, strict=True))
    right_llm = sum(a == b for a, b in zip(y, llm, strict=True))
    return SampleComparison(
        run_id=run_id,
        model_id=model_id,
        n=n,
        accuracy=right_small / n if n else float("nan"),
        accuracy_ci=wilson_interval(right_small, n),
        llm_accuracy=right_llm / n if n else float("nan"),
        llm_accuracy_ci=wilson_interval(right_llm, n),
        test=mcnemar(y, small, llm),
        missing=int((~have).sum()),
    )


def compare_runs_on_sample(store, m: LLMMeasurement, runs) -> list[SampleComparison]:
    """Every finished small-model run of ``runs`` scored on the LLM's sample (runs without
    stored test predictions are left out)."""
    from slm_core.train import load_test_predictions

    out = []
    for run in runs:
        if run.model_id == LLM_MODEL_ID:
            continue
        try:
            preds = load_test_predictions(store, run.id)
        except NotFoundError:
            continue
        out.append(compare_on_sample(m, run.id, run.model_id, preds))
    return out
