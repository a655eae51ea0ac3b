"""What was measured per finished run of a dataset, gathered from the run store for scoring.

Validation predictions (which choose thresholds), robustness and faithfulness need the model;
they are measured once per run in the background and stored (:mod:`slm_core.value.checks`).
Pages read them as stored (``measure=False``); the command line may measure what is missing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from slm_core.atomic import write_text_atomic
from slm_core.errors import NotFoundError, SlmError
from slm_core.evaluate import accuracy_interval
from slm_core.llm import model_runs
from slm_core.numbers import finite_or_none
from slm_core.runtime import BENCH_KIND, BenchReport
from slm_core.value.checks import (
    NOISE_SEED,
    Measurement,
    cost_budget,
    faithfulness_result,
    model_loader,
    model_token_unit,
    robustness_result,
    validation_predictions,
)
from slm_core.value.payoff import SplitScores, split_scores
from slm_core.value.robustness import sample_indices
from slm_core.value.serving import ServingMeasure, TextLengths, text_lengths
from slm_core.value.social import FairnessResult, fairness

if TYPE_CHECKING:  # slm_core.llm imports slm_core.value: imported where used instead
    from slm_core.llm.measurement import LLMMeasurement

log = logging.getLogger(__name__)


def run_label(run_id: int, model_id: str) -> str:
    """A short column name for a run, e.g. '#3 tfidf_lr'."""
    return f"#{run_id} {model_id}"


@dataclass(frozen=True)
class RunInputs:
    """Everything measured about one finished run that the value figures use."""

    run_id: int
    model_id: str
    label: str
    family: str  # "linear" or "neural"
    test: SplitScores
    val: SplitScores | None
    val_source: str | None  # "stored", "computed" or None (no validation predictions)
    accuracy: float
    accuracy_ci: tuple[float, float]
    majority_rate: float
    serving: ServingMeasure
    model_token_unit: str | None = None
    groups: tuple[str, ...] | None = None
    robustness: dict[str, Any] | None = None
    robustness_note: str | None = None
    faithfulness: dict[str, Any] | None = None
    explain_note: str | None = None
    card_written: bool = False
    feedback_rated: int = 0
    feedback_right: int = 0
    train_kwh: float | None = None
    train_kwh_kind: str | None = None  # "measured" (RAPL) or "modelled"
    train_seconds: float | None = None
    bench: dict[str, Any] | None = None
    # For each text the dataset's LLM measurement answered: its row in this run's test split
    # (-1 when absent, e.g. another split seed); None without a measurement.
    llm_rows: np.ndarray | None = None

    def fairness(self, min_size: int) -> FairnessResult:
        """Worst vs best group (or class) on the test split, computed once per group size."""
        cache = self.__dict__.setdefault("_fairness", {})
        if min_size not in cache:
            cache[min_size] = fairness(
                [self.test.classes[i] for i in self.test.true_idx],
                [self.test.classes[i] for i in self.test.pred_idx],
                self.groups,
                min_size,
            )
        return cache[min_size]

    @property
    def better_than_guessing(self) -> bool:
        """The 95% accuracy interval's low end clears the majority-class rate."""
        low = self.accuracy_ci[0]
        return bool(np.isfinite(low) and low > self.majority_rate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "label": self.label,
            "family": self.family,
            "accuracy": self.accuracy,
            "accuracy_ci": list(self.accuracy_ci),
            "majority_rate": self.majority_rate,
            "better_than_guessing": self.better_than_guessing,
            "n_test": self.test.n,
            "n_validation": self.val.n if self.val is not None else 0,
            "validation_source": self.val_source,
            "classes": list(self.test.classes),
            "serving": self.serving.to_dict(),
            "model_token_unit": self.model_token_unit,
            "robustness": self.robustness,
            "faithfulness": self.faithfulness,
            "card_written": self.card_written,
            "feedback": {"rated": self.feedback_rated, "right": self.feedback_right},
            "train_kwh": self.train_kwh,
            "train_kwh_kind": self.train_kwh_kind,
            "train_seconds": self.train_seconds,
            "llm_sample_in_test": (
                None if self.llm_rows is None else int((np.asarray(self.llm_rows) >= 0).sum())
            ),
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
    reference_test: tuple[str, ...] = ()  # true labels of the test split the API is priced on
    skipped: tuple[tuple[int, str], ...] = ()
    has_groups: bool = False
    measurement: Measurement = Measurement()
    # The newest finished LLM measurement of the dataset (None: the LLM's figures are assumed).
    llm: LLMMeasurement | None = None

    @cached_property
    def reference_idx(self) -> np.ndarray:
        """``reference_test`` as indices into ``classes`` (an unknown label counts as the first)."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index.get(c, 0) for c in self.reference_test], dtype=int)

    @cached_property
    def reference_rows(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(true class of each row, texts per row): ``reference_idx`` itself (None: one each),
        or from ``COLLAPSE_FROM`` texts on one row per class, weighted by its texts; the API's
        per-text figures depend on the true class alone (see ``SplitScores.answers``)."""
        from slm_core.resample import COLLAPSE_FROM

        idx = self.reference_idx
        if len(idx) < COLLAPSE_FROM:
            return idx, None
        classes, counts = np.unique(idx, return_counts=True)
        return classes, counts

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
            "measurement": {
                "noise": self.measurement.noise.to_dict(),
                "faithfulness_bins": list(self.measurement.faithfulness_bins),
            },
            "runs": [r.to_dict() for r in self.runs],
            "skipped": [list(s) for s in self.skipped],
            "llm": None if self.llm is None else {"run_id": self.llm.run_id, **self.llm.summary()},
        }


# ------------------------------------------------------------------- per run


def _train_energy(run, bench: dict | None) -> tuple[float | None, str | None]:
    """Training IT energy (kWh, before PUE) and its kind: RAPL-metered or modelled."""
    m = run.measured
    if m.train_energy_kwh is not None:
        return m.train_energy_kwh, "modelled" if m.train_energy_estimate else "measured"
    report = BenchReport.read(bench)
    kwh = finite_or_none(report.train_energy.get("value")) if report is not None else None
    return (kwh, "modelled") if kwh is not None else (None, None)


def _run_inputs(
    store, run, dataset, prior_by_class, feedback, token_unit, measure, settings, llm=None
):
    from slm_core.models.registry import get_spec
    from slm_core.train import load_test_predictions

    # The texts only to measure with the model or to align the LLM's answers with them.
    preds = load_test_predictions(store, run.id, with_texts=measure or llm is not None)
    family = get_spec(run.model_id).family
    loader = model_loader(store, run.id) if measure else None
    val, val_source = validation_predictions(store, run, loader)
    budget = cost_budget(run, preds, loader) if loader is not None else None
    robustness, rob_note = robustness_result(store, run, preds, loader, settings.noise, budget)
    unit = model_token_unit(store, run.id) or token_unit
    faith, explain_note = faithfulness_result(
        store, run, preds, unit, loader, settings.faithfulness_bins, budget
    )
    del loader  # the model (if it was loaded) is not kept beyond this run
    test = split_scores("test", preds.y_true, preds.proba, preds.classes, prior_by_class)
    ci = accuracy_interval(test.true_idx, test.pred_idx)
    bench = store.get_result(run.id, BENCH_KIND)
    fallback_cpu = finite_or_none((robustness or {}).get("cpu_seconds_per_prediction"))
    serving = ServingMeasure.from_bench(bench).with_fallback(
        fallback_cpu, run.measured.model_size_bytes
    )
    if robustness is not None:
        keep = sample_indices(test.n, robustness.get("n", test.n) or test.n, NOISE_SEED)
        chance = SplitScores(
            "test", test.classes, test.true_idx[keep], test.pred_idx[keep], test.confidence[keep]
        ).majority_rate()
        robustness = {**robustness, "chance": chance}
    if faith is not None and faith.get("n_classes"):
        faith = {**faith, "chance": 1.0 / float(faith["n_classes"])}
    fb = feedback.get(run.id, {})
    card = store.get_result(run.id, "model_card") or {}
    train_kwh, train_kind = _train_energy(run, bench)
    return RunInputs(
        run_id=run.id,
        model_id=run.model_id,
        label=run_label(run.id, run.model_id),
        family=family,
        test=test,
        val=(
            None
            if val is None
            else split_scores("validation", val.y_true, val.proba, val.classes, prior_by_class)
        ),
        val_source=val_source,
        accuracy=float(test.correct.mean()) if test.n else 0.0,
        accuracy_ci=(float(ci[0]), float(ci[1])),
        majority_rate=test.majority_rate(),
        serving=serving,
        model_token_unit=unit,
        groups=tuple(preds.groups) if preds.groups is not None else None,
        robustness=robustness,
        robustness_note=rob_note,
        faithfulness=faith,
        explain_note=explain_note,
        card_written=bool(card.get("intended_use")),
        feedback_rated=int(fb.get("rated", 0)),
        feedback_right=int(fb.get("right", 0)),
        train_kwh=train_kwh,
        train_kwh_kind=train_kind,
        train_seconds=run.train_seconds,
        bench=bench,
        llm_rows=None if llm is None else llm.align(preds.texts, preds.y_true),
    )


# A dataset's text lengths once counted: its texts never change under its id (a content
# hash). Removed with the dataset (``RunStore.delete_dataset``).
LENGTHS_FILE = "datasets/{dataset_id}.lengths.json"


def dataset_lengths(store, dataset_id: str) -> TextLengths:
    """The dataset's text lengths, for the API's token estimate: read back from
    :data:`LENGTHS_FILE`, else counted over every text (:func:`text_lengths`) and written there.

    Counting reads every text: ~0.4 s for a million, which the first visit to Cost or Value
    after each server start waited for. The training job counts them as a run finishes
    (``slm_core.value.checks_job.measure_after_training``), so a page reads them.
    """
    path = Path(store.home) / LENGTHS_FILE.format(dataset_id=dataset_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return TextLengths(
            float(data["mean_cjk_chars"]), float(data["mean_other_chars"]), int(data["n_texts"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not counted yet, or a file that cannot be read: counted again
    lengths = text_lengths(store.load_columns(dataset_id, ["text"]).column("text"))
    try:
        write_text_atomic(path, json.dumps(lengths.to_dict()))
    except OSError as exc:  # an unwritable home: the figure is right, only counted again
        log.warning("dataset %s: text lengths not stored: %s", dataset_id, exc)
    return lengths


def _latest_llm(store, dataset_id: str):
    """The dataset's newest finished LLM measurement (its stored answers read back; no model,
    no call), or None when there is none or it cannot be read."""
    from slm_core.llm.measurement import latest_measurement

    try:
        return latest_measurement(store, dataset_id)
    except SlmError as exc:
        log.warning("dataset %s: LLM measurement unreadable: %s", dataset_id, exc)
        return None


def collect_inputs(
    store,
    dataset_id: str,
    *,
    measure: bool = True,
    settings: Measurement | None = None,
    progress=None,
) -> DatasetInputs:
    """Gather the measured inputs of every finished run of ``dataset_id``.

    With ``measure``, validation predictions, robustness and faithfulness missing from the
    store are computed now (the model is loaded once per run) and stored, as the command line
    does; without it (every page) they stay missing, with a note saying so or why they could
    not be measured (:mod:`slm_core.value.checks`), until the background job stores them.
    ``progress(i, n, label)`` is called before each run. The newest finished LLM measurement
    of the dataset, if any, is read back too (``DatasetInputs.llm``) and aligned with each
    run's test split (``RunInputs.llm_rows``) for the cascade.
    """
    settings = settings or Measurement()
    dataset = store.get_dataset(dataset_id)
    report = dataset.report or {}
    lengths = dataset_lengths(store, dataset_id)
    counts = report.get("classes")
    if not counts:
        labels = store.load_columns(dataset_id, ["label"]).column("label").to_pandas()
        counts = labels.astype(str).value_counts().to_dict()
    classes = tuple(str(c) for c in counts)
    total = sum(counts.values()) or 1
    prior = tuple(float(counts[c]) / total for c in counts)
    prior_by_class = dict(zip(classes, prior, strict=True))
    token_unit = report.get("token_unit", "word")
    feedback = store.feedback_summary(dataset_id)
    runs = sorted(
        model_runs(store.list_runs(dataset_id=dataset_id, statuses=("succeeded",))),
        key=lambda r: r.id,
    )
    llm = _latest_llm(store, dataset_id)
    out: list[RunInputs] = []
    skipped: list[tuple[int, str]] = []
    for i, run in enumerate(runs):
        if progress is not None:
            progress(i, len(runs), run_label(run.id, run.model_id))
        try:
            out.append(
                _run_inputs(
                    store,
                    run,
                    dataset,
                    prior_by_class,
                    feedback,
                    token_unit,
                    measure,
                    settings,
                    llm,
                )
            )
        except NotFoundError as exc:
            skipped.append((run.id, str(exc)))
    reference = ()
    if out:
        first = out[0].test
        reference = tuple(first.classes[i] for i in first.true_idx)
    return DatasetInputs(
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        script=report.get("script", "latin"),
        token_unit=token_unit,
        lengths=lengths,
        classes=classes,
        prior=prior,
        runs=tuple(out),
        reference_test=reference,
        skipped=tuple(skipped),
        has_groups=any(r.groups is not None for r in out),
        measurement=settings,
        llm=llm,
    )
