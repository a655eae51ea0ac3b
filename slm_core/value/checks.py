"""The value checks of a finished run: validation predictions, robustness and faithfulness.

All three need the run's saved model, so they are measured once per run *outside* any page
and stored: validation predictions beside the test ones, the checks as the run's 'robustness'
and 'faithfulness' results. :func:`measure_run` measures what is missing under the given
:class:`Measurement` settings; the background job (:mod:`slm_core.value.checks_job`) calls it
right after training and for runs that lack a check (runs stored before the checks were, or
noise rates edited on the Value page). Pages only read (``collect_inputs(measure=False)``).

A check that cannot be measured (the model does not load, the split rules changed since
training) is recorded in the run's 'value_checks' result with the note the page shows, so it
is not tried again under the same settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slm_core.errors import NotFoundError, SlmError
from slm_core.explain import ERASER_BINS, FAITHFULNESS_SAMPLE
from slm_core.store.records import RunProgress
from slm_core.value.check_budget import (
    MIN_FAITHFULNESS_TEXTS,
    MIN_ROBUSTNESS_TEXTS,
    ROBUSTNESS_CALLS_PER_TEXT,
    CheckBudget,
    faithfulness_calls_per_text,
    is_budgeted,
    measure_budget,
)
from slm_core.value.robustness import (
    MAX_ITEMS,
    ROBUSTNESS_KIND,
    ROBUSTNESS_VERSION,
    NoiseConfig,
    robustness_check,
)

log = logging.getLogger(__name__)

FAITHFULNESS_KIND = "faithfulness"
# 3: ERASER comprehensiveness/sufficiency over bins, stratified sample, bootstrap interval.
# Results of earlier versions hold other fields; they are measured again (or left missing).
FAITHFULNESS_VERSION = 3
# Every run of a dataset is measured on the same texts (the sample depends only on the test
# labels and the seed), so families are compared on one sample. Occlusion costs one model call
# per token read plus 60 variants per text: ~5 s for 50 texts of 120 tokens with a quick LSTM
# on two cores, measured once per run and cached.
FAITHFULNESS_TEXTS = FAITHFULNESS_SAMPLE
FAITHFULNESS_SEED = 0
NOISE_SEED = 0
# Checks that could not be measured, per run: {check: {"settings": ..., "note": key}}.
CHECKS_KIND = "value_checks"
CHECKS = ("validation", "robustness", "faithfulness")
# Stage keys of a run's progress while its checks are measured (``stage.<key>``).
STAGES = {check: f"value_checks_{check}" for check in CHECKS}
STAGE_DONE = "value_checks_done"

Loader = Callable[[], Any]
# The checks' budget of an expensive model (None: the fixed samples), measured on first call.
Budget = Callable[[], CheckBudget | None]


@dataclass(frozen=True)
class Measurement:
    """Measurement settings: the noise rates (from the scenario) and the faithfulness check's
    rationale sizes (ERASER's bins, shares of the tokens a model reads). Changing them
    re-measures the checks of every run."""

    noise: NoiseConfig = NoiseConfig()
    faithfulness_bins: tuple[float, ...] = ERASER_BINS

    @classmethod
    def of(cls, a) -> Measurement:
        return cls(NoiseConfig.of(a))

    def key(self) -> str:
        data = {"noise": self.noise.to_dict(), "bins": list(self.faithfulness_bins)}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_key(cls, key: str) -> Measurement:
        data = json.loads(key)
        # Keys written before the bins (they held a top-k) get the default bins.
        bins = tuple(float(b) for b in data.get("bins", ERASER_BINS))
        return cls(NoiseConfig(**data["noise"]), bins)

    def of_check(self, check: str) -> Any:
        """The settings one check depends on (JSON-able), as recorded with a failure."""
        if check == "robustness":
            return self.noise.to_dict()
        if check == "faithfulness":
            return [float(b) for b in self.faithfulness_bins]
        return None


@dataclass(frozen=True)
class RunChecks:
    """What :func:`measure_run` did for one run: the checks it measured and those it could
    not (check → the note to show)."""

    run_id: int
    measured: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "measured": list(self.measured), "failed": dict(self.failed)}


# ------------------------------------------------------------ what is stored


def stored_robustness(store, run_id: int, noise: NoiseConfig) -> dict | None:
    """The run's robustness result if it was measured under ``noise`` (and this version)."""
    cached = store.get_result(run_id, ROBUSTNESS_KIND)
    if (
        cached
        and cached.get("version") == ROBUSTNESS_VERSION
        and cached.get("seed") == NOISE_SEED
        and cached.get("config") == noise.to_dict()
    ):
        return cached
    return None


def stored_faithfulness(store, run_id: int, bins: tuple[float, ...]) -> dict | None:
    """The run's faithfulness result if it was measured with ``bins`` (and this version); a
    result of an earlier version or other bins counts as missing."""
    cached = store.get_result(run_id, FAITHFULNESS_KIND)
    if (
        cached
        and cached.get("value_version") == FAITHFULNESS_VERSION
        and tuple(cached.get("bins") or ()) == tuple(bins)
    ):
        return cached
    return None


def has_validation(store, run_id: int) -> bool:
    """Whether the run's validation predictions are stored."""
    from slm_core.train import PREDICTION_FILES

    return (store.artifact_dir(run_id) / PREDICTION_FILES["validation"]).exists()


def _failed(record: dict | None, check: str, wanted: Any) -> str | None:
    """The note of ``check`` in a 'value_checks' record if it failed under ``wanted``."""
    entry = (record or {}).get(check)
    if entry and entry.get("settings") == wanted:
        return str(entry.get("note") or "value.note.model_unavailable")
    return None


def failure_note(store, run_id: int, check: str, wanted: Any) -> str | None:
    """The note of ``check`` if it could not be measured under ``wanted`` (the settings it
    depends on, :meth:`Measurement.of_check`), else None."""
    return _failed(store.get_result(run_id, CHECKS_KIND), check, wanted)


def missing_checks(store, run_id: int, settings: Measurement) -> tuple[str, ...]:
    """The checks of a run that are neither stored under ``settings`` nor known to fail."""
    from slm_core.train import PREDICTION_FILES

    if not (store.artifact_dir(run_id) / PREDICTION_FILES["test"]).exists():
        return ()  # nothing to measure on (the value figures skip the run)
    record = store.get_result(run_id, CHECKS_KIND)
    stored = {
        "validation": has_validation(store, run_id),
        "robustness": stored_robustness(store, run_id, settings.noise) is not None,
        "faithfulness": stored_faithfulness(store, run_id, settings.faithfulness_bins) is not None,
    }
    return tuple(
        check
        for check in CHECKS
        if not stored[check] and _failed(record, check, settings.of_check(check)) is None
    )


def stamp(store, run_id: int) -> list[Any]:
    """What the stored checks of a run are measured under (changes when one lands)."""
    rob = store.get_result(run_id, ROBUSTNESS_KIND) or {}
    faith = store.get_result(run_id, FAITHFULNESS_KIND) or {}
    return [
        has_validation(store, run_id),
        [rob.get("version"), rob.get("seed"), rob.get("config")],
        [faith.get("value_version"), faith.get("bins")],
        store.get_result(run_id, CHECKS_KIND),
    ]


# ------------------------------------------------------- read, or measure with a model


def validation_predictions(store, run, loader: Loader | None) -> tuple[Any, str | None]:
    """(predictions, source): the run's stored validation predictions ('stored'), predicted
    once from its model if missing and ``loader`` is given ('computed'), else (None, None)."""
    from slm_core.train import load_predictions, predict_validation

    try:
        # Its labels and probabilities: nothing here reads its texts.
        return load_predictions(store, run.id, "validation", with_texts=False), "stored"
    except NotFoundError:
        if loader is None:
            return None, None
    try:
        return predict_validation(store, run.id, loader()), "computed"
    except (SlmError, ImportError, OSError, ValueError) as exc:
        log.warning("run %s: no validation predictions: %s", run.id, exc)
        return None, None


def robustness_result(
    store, run, preds, loader: Loader | None, noise: NoiseConfig, budget: Budget | None = None
) -> tuple[dict | None, str | None]:
    """(result, note): the run's stored robustness result, measured once with its model if
    missing and ``loader`` is given; on as many texts as ``budget`` affords when it gives one
    (:mod:`slm_core.value.check_budget`)."""
    cached = stored_robustness(store, run.id, noise)
    if cached is not None:
        return cached, None
    if loader is None:
        failed = failure_note(store, run.id, "robustness", noise.to_dict())
        return None, failed or "value.note.robustness_missing"
    try:
        model = loader()
    except (SlmError, ImportError, OSError) as exc:
        log.warning("run %s: cannot load the model for robustness: %s", run.id, exc)
        return None, "value.note.model_unavailable"
    limit, extra = MAX_ITEMS, None
    sized = budget() if budget is not None else None
    if sized is not None:
        wanted = min(len(preds.texts), MAX_ITEMS)
        limit = sized.sample_size(wanted, ROBUSTNESS_CALLS_PER_TEXT, MIN_ROBUSTNESS_TEXTS)
        extra = {"budget": sized.details(limit, wanted, ROBUSTNESS_CALLS_PER_TEXT)}
    data = robustness_check(
        model, preds.texts, preds.y_true, noise, seed=NOISE_SEED, limit=limit, extra=extra
    ).to_dict()
    store.put_result(run.id, ROBUSTNESS_KIND, data)
    return data, None


def faithfulness_result(
    store,
    run,
    preds,
    token_unit: str,
    loader: Loader | None,
    bins: tuple[float, ...],
    budget: Budget | None = None,
) -> tuple[dict | None, str | None]:
    """(result, note): ERASER faithfulness on a label-stratified, seeded sample of test texts,
    stored as the run's 'faithfulness' result; measured when missing and ``loader`` is given,
    on a smaller stratified sample when ``budget`` gives one that affords fewer texts."""
    cached = stored_faithfulness(store, run.id, bins)
    if cached is not None:
        return cached, None
    if loader is None:
        failed = failure_note(store, run.id, "faithfulness", [float(b) for b in bins])
        return None, failed or "value.note.explain_missing"
    try:
        from slm_core import explain

        model = loader()
    except (SlmError, ImportError, OSError):
        return None, "value.note.model_unavailable"
    usable = [i for i, t in enumerate(preds.texts) if str(t).strip()]
    labels = [preds.y_true[i] for i in usable]
    limit, sized = FAITHFULNESS_TEXTS, budget() if budget is not None else None
    picked = explain.stratified_indices(labels, limit, FAITHFULNESS_SEED)
    wanted = len(picked)
    if sized is not None:
        texts = [str(preds.texts[usable[i]]) for i in picked]
        calls = faithfulness_calls_per_text(model, texts, token_unit, bins)
        limit = sized.sample_size(len(picked), calls, MIN_FAITHFULNESS_TEXTS)
        picked = explain.stratified_indices(labels, limit, FAITHFULNESS_SEED)
    keep = [usable[i] for i in picked]
    result = explain.faithfulness(
        model,
        [str(preds.texts[i]) for i in keep],
        token_unit=token_unit,
        bins=bins,
        seed=FAITHFULNESS_SEED,
    ).to_dict()
    counts: dict[str, int] = {}
    for i in keep:
        counts[str(preds.y_true[i])] = counts.get(str(preds.y_true[i]), 0) + 1
    result["sample_per_class"] = counts
    if sized is not None:
        result["budget"] = sized.details(len(keep), wanted, calls)
    result["value_version"] = FAITHFULNESS_VERSION
    store.put_result(run.id, FAITHFULNESS_KIND, result)
    return result, None


def model_token_unit(store, run_id: int) -> str | None:
    """The token unit the run's saved model reads (None when its metadata cannot be read)."""
    try:
        from slm_core.models.saved import read_meta

        return read_meta(store.artifact_dir(run_id) / "model").get("token_unit")
    except (SlmError, OSError, ValueError):
        return None


def cost_budget(run, preds, loader: Loader) -> Budget:
    """The checks' budget of ``run`` (:mod:`slm_core.value.check_budget`), measured once on
    first call with its model on its test texts; None for families with fixed samples."""
    from slm_core.models.registry import SPECS

    memo: dict[str, CheckBudget | None] = {}

    def budget() -> CheckBudget | None:
        if "budget" not in memo:
            spec = SPECS.get(run.model_id)
            budgeted = spec is not None and is_budgeted(spec.family)
            memo["budget"] = (
                measure_budget(loader(), preds.texts, run.train_seconds) if budgeted else None
            )
        return memo["budget"]

    return budget


def model_loader(store, run_id: int) -> Loader:
    """A loader of the run's saved model that loads it once, on first call."""
    loaded: dict[str, Any] = {}

    def loader():
        if "model" not in loaded:
            from slm_core.models.registry import load_model

            loaded["model"] = load_model(store.artifact_dir(run_id) / "model")
        return loaded["model"]

    return loader


# ------------------------------------------------------------------- measure one run


def pending_runs(store, dataset_id: str, settings: Measurement) -> list[tuple[Any, tuple]]:
    """(run, its missing checks) for each finished model run of the dataset that lacks a
    check under ``settings`` (LLM measurements have none), oldest first."""
    from slm_core.llm import model_runs

    runs = model_runs(store.list_runs(dataset_id=dataset_id, statuses=("succeeded",)))
    out = []
    for run in sorted(runs, key=lambda r: r.id):
        missing = missing_checks(store, run.id, settings)
        if missing:
            out.append((run, missing))
    return out


def record_checks(
    store, run_id: int, settings: Measurement, failed: dict[str, str], done=()
) -> None:
    """Record in 'value_checks' the checks that could not be measured under ``settings``
    (check → note) and forget earlier failures of the checks now ``done``."""
    old = store.get_result(run_id, CHECKS_KIND)
    record = dict(old or {})
    for check in done:
        record.pop(check, None)
    for check, note in failed.items():
        record[check] = {"settings": settings.of_check(check), "note": note}
    if record != (old or {}):
        store.put_result(run_id, CHECKS_KIND, record)


def measure_run(store, run_id: int, settings: Measurement | None = None) -> RunChecks:
    """Measure and store the value checks ``run_id`` lacks under ``settings``.

    The model is loaded once, only if a check is missing. Progress is written to the run's
    live progress (stage ``value_checks_<check>``, then ``value_checks_done``). A check that
    cannot be measured is recorded with its note and not tried again under the same settings;
    an unexpected error in one check is recorded too and the others still run.
    """
    from slm_core.train import load_test_predictions

    settings = settings or Measurement()
    todo = missing_checks(store, run_id, settings)
    if not todo:
        return RunChecks(run_id)
    run = store.get_run(run_id)
    preds = load_test_predictions(store, run_id)
    dataset = store.get_dataset(run.dataset_id)
    unit = model_token_unit(store, run_id) or (dataset.report or {}).get("token_unit", "word")
    loader = model_loader(store, run_id)
    budget = cost_budget(run, preds, loader)
    measured: list[str] = []
    failed: dict[str, str] = {}
    for i, check in enumerate(todo):
        store.set_progress(
            run_id,
            RunProgress(batch=i, batches=len(todo), fraction=i / len(todo), message=STAGES[check]),
        )
        try:
            if check == "validation":
                value, note = validation_predictions(store, run, loader)[0], None
                note = None if value is not None else "value.note.validation_unavailable"
            elif check == "robustness":
                value, note = robustness_result(store, run, preds, loader, settings.noise, budget)
            else:
                value, note = faithfulness_result(
                    store, run, preds, unit, loader, settings.faithfulness_bins, budget
                )
        except Exception:  # one failing check must not stop the others
            log.exception("run %s: the %s check failed", run_id, check)
            value, note = None, "value.note.check_failed"
        if value is not None:
            measured.append(check)
        else:
            failed[check] = note or "value.note.model_unavailable"
    store.set_progress(
        run_id, RunProgress(batch=len(todo), batches=len(todo), fraction=1.0, message=STAGE_DONE)
    )
    record_checks(store, run_id, settings, failed, measured)
    return RunChecks(run_id, tuple(measured), tuple(failed.items()))
