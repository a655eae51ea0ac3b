"""Hyper-parameter sweeps for the ``thorough`` preset, chosen on the validation split only.

A sweep is a training run whose parameters hold ``sweep: {"trials": n}``. Before the run's
model is trained, :func:`run_sweep` draws ``n`` settings around the model's ``thorough`` preset
(scikit-learn's ``ParameterSampler`` over :data:`SEARCH_SPACES`) and scores each on the
validation split with an existing engine:

- **Ray Tune** when runs execute on Ray (``SLM_EXECUTOR=ray``): one trial per setting, trained
  on the whole training split, as many at once as the cluster has CPUs for;
- **scikit-learn's successive halving** (``HalvingRandomSearchCV``) otherwise: every setting is
  trained on a small share of the training split first, and only the best third goes on to
  three times as many texts, until one is left.

A trial never sees the test split: it trains on (part of) the training split, stops early on
its own hold-out carved from that (Keras models), and is scored on the validation split. Every
trial (its settings, validation accuracy and the training texts it used) is stored as the run's
``sweep`` result, the best settings become the run's parameters, and the run then trains,
evaluates and saves that promoted model like any other run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slm_core.errors import TrainError

SWEEP_KEY = "sweep"
RESULT_KIND = "sweep"
MIN_TRIALS, MAX_TRIALS, DEFAULT_TRIALS = 2, 24, 6
HALVING_FACTOR = 3
# Keras models stop early on this share of a trial's training texts (never the validation split,
# which scores the trial).
EARLY_STOP_SHARE = 0.1
# Around the thorough preset: the settings that matter most for each family, on scales where a
# step is a real change. Linear models: the strength of the regularisation, from a tenth to ten
# times the preset's.
_LINEAR_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)
SEARCH_SPACES: dict[str, dict[str, tuple[Any, ...]]] = {
    "neural": {
        "learning_rate": (5e-4, 1e-3, 2e-3, 3e-3),
        "dropout": (0.2, 0.3, 0.4, 0.5),
        "units": (64, 128, 192),
    },
    "pretrained": {
        "learning_rate": (1e-3, 3e-3),
        "dropout": (0.1, 0.3, 0.5),
        "units": (128, 256),
    },
}
# Fine-tuning the encoder takes minutes to hours a setting: not swept.
NOT_SWEPT = frozenset({"minilm_finetune"})


@dataclass(frozen=True)
class Trial:
    """One setting tried: what it changed, its validation accuracy, and on how many texts."""

    number: int
    settings: dict[str, Any]
    val_accuracy: float | None
    train_rows: int
    rung: int = 0


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: the engine, every trial, and the settings promoted."""

    engine: str  # "ray_tune" or "successive_halving"
    trials: list[Trial]
    best: dict[str, Any]
    best_val_accuracy: float | None
    space: dict[str, list[Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trials_requested(params: dict[str, Any]) -> int | None:
    """How many settings a run's parameters ask to sweep, or None when it is no sweep."""
    sweep = params.get(SWEEP_KEY)
    if not sweep:
        return None
    trials = int(sweep.get("trials", DEFAULT_TRIALS)) if isinstance(sweep, dict) else int(sweep)
    return min(max(trials, MIN_TRIALS), MAX_TRIALS)


def search_space(model_id: str) -> dict[str, list[Any]]:
    """The settings a sweep of ``model_id`` draws from; TrainError for a model not swept."""
    from slm_core.models.registry import get_spec

    spec = get_spec(model_id)
    if model_id in NOT_SWEPT:
        raise TrainError("errors.sweep.not_swept", model_id=model_id)
    if spec.family == "linear":
        thorough = spec.presets["thorough"]
        key = next(k for k in ("C", "alpha") if k in thorough)
        return {key: [round(thorough[key] * f, 6) for f in _LINEAR_FACTORS]}
    space = {
        name: list(values)
        for name, values in SEARCH_SPACES[spec.family].items()
        if name in spec.presets["thorough"]
    }
    if not space:
        raise TrainError("errors.sweep.not_swept", model_id=model_id)
    return space


def draw_settings(model_id: str, trials: int, seed: int) -> list[dict[str, Any]]:
    """``trials`` distinct settings from the model's search space (all of it when smaller)."""
    from sklearn.model_selection import ParameterSampler

    space = search_space(model_id)
    size = math.prod(len(values) for values in space.values())
    sampler = ParameterSampler(space, n_iter=min(trials, size), random_state=seed)
    return [{k: _plain(v) for k, v in setting.items()} for setting in sampler]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------ one trial


def fit_candidate(
    model_id: str,
    settings: dict[str, Any],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    token_unit: str,
    seed: int,
    n_train: int | None = None,
    cache: tuple[str, str] | None = None,
):
    """A model of ``model_id`` with the thorough preset and ``settings``, fitted on ``texts``
    (Keras models stop early on a hold-out of them). ``cache``: (data folder, dataset id) of
    the dataset's sentence-embedding cache, for a pretrained encoder."""
    from sklearn.model_selection import train_test_split

    from slm_core.models.registry import KERAS_FAMILIES, build, get_spec, small_data_settings

    overrides = {**small_data_settings(model_id, "thorough", n_train), **settings}
    model = build(model_id, "thorough", overrides, token_unit=token_unit, seed=seed)
    if cache is not None and hasattr(model, "use_embedding_cache"):  # embedded once, not per trial
        model.use_embedding_cache(Path(cache[0]), cache[1])
    texts, labels = list(texts), list(labels)
    if get_spec(model_id).family not in KERAS_FAMILIES or len(texts) < 20:
        return model.fit(texts, labels)
    try:
        fit_x, stop_x, fit_y, stop_y = train_test_split(
            texts, labels, test_size=EARLY_STOP_SHARE, random_state=seed, stratify=labels
        )
    except ValueError:  # a class too small to be in both parts
        fit_x, stop_x, fit_y, stop_y = train_test_split(
            texts, labels, test_size=EARLY_STOP_SHARE, random_state=seed
        )
    return model.fit(fit_x, fit_y, stop_x, stop_y)


# ------------------------------------------------------------------ successive halving


# Set by run_sweep for the halving search in this process: sklearn clones its estimator for
# every fit, so the run store cannot travel as one of the estimator's parameters.
_CHECKPOINT: Callable[[], None] = lambda: None  # noqa: E731


def _candidate_class():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class SweepCandidate(ClassifierMixin, BaseEstimator):
        """One setting of a model, as scikit-learn's search sees it."""

        def __init__(
            self,
            model_id="tfidf_lr",
            settings=None,
            token_unit="word",
            seed=42,
            cache_home=None,
            dataset_id=None,
        ):
            self.model_id = model_id
            self.settings = settings
            self.token_unit = token_unit
            self.seed = seed
            self.cache_home = cache_home
            self.dataset_id = dataset_id

        def fit(self, X, y):
            _CHECKPOINT()
            self.model_ = fit_candidate(
                self.model_id,
                dict(self.settings or {}),
                list(X),
                list(y),
                token_unit=self.token_unit,
                seed=self.seed,
                n_train=len(X),
                cache=(self.cache_home, self.dataset_id) if self.cache_home else None,
            )
            self.classes_ = np.array(self.model_.classes_)
            self.train_rows_ = len(X)
            return self

        def predict(self, X):
            return np.array(self.model_.predict(list(X)))

    return SweepCandidate


def halving_search(
    model_id: str,
    settings: list[dict[str, Any]],
    train: tuple[list[str], list[str]],
    val: tuple[list[str], list[str]],
    *,
    token_unit: str,
    seed: int,
    cache: tuple[str, str] | None = None,
) -> list[Trial]:
    """Score ``settings`` by successive halving over training-set sizes, on the validation
    split (scikit-learn's ``HalvingRandomSearchCV`` with the split as its one fold)."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, PredefinedSplit

    texts = np.array(train[0] + val[0], dtype=object)
    labels = np.array(train[1] + val[1], dtype=object)
    fold = PredefinedSplit([-1] * len(train[0]) + [0] * len(val[0]))
    n_classes = len(set(train[1]))
    search = HalvingRandomSearchCV(
        _candidate_class()(
            model_id=model_id,
            token_unit=token_unit,
            seed=seed,
            cache_home=cache[0] if cache else None,
            dataset_id=cache[1] if cache else None,
        ),
        {"settings": settings},
        n_candidates=len(settings),
        factor=HALVING_FACTOR,
        resource="n_samples",
        # Three rungs on a few thousand texts, two on a few hundred: the first trains every
        # setting on a ninth of the texts (at least a few per class).
        min_resources=min(len(texts), max(len(texts) // HALVING_FACTOR**2, 5 * n_classes, 30)),
        cv=fold,
        scoring="accuracy",
        refit=False,
        error_score="raise",
        random_state=seed,
        n_jobs=1,
    )
    search.fit(texts, labels)
    results = search.cv_results_
    last: dict[int, Trial] = {}
    share = len(train[0]) / len(texts)  # n_resources counts the validation texts too
    for i, setting in enumerate(results["param_settings"]):
        number = settings.index(setting)
        score = float(results["mean_test_score"][i])
        last[number] = Trial(
            number=number,
            settings=dict(setting),
            val_accuracy=None if math.isnan(score) else score,
            train_rows=round(int(results["n_resources"][i]) * share),
            rung=int(results["iter"][i]),
        )
    return [last[n] for n in sorted(last)]


# ------------------------------------------------------------------ Ray Tune


def _tune_trial(config: dict[str, Any], *, job: dict[str, Any]) -> None:
    from ray import tune
    from sklearn.metrics import accuracy_score

    from slm_core.store import RunStore

    store = RunStore(job["store_url"], job["home"])
    train, val = _split_texts(store, job["run_id"])
    model = fit_candidate(
        job["model_id"],
        config["settings"],
        *train,
        token_unit=job["token_unit"],
        seed=job["seed"],
        n_train=len(train[0]),
        cache=(job["home"], store.get_run(job["run_id"]).dataset_id),
    )
    # The score the halving search uses too (its scoring="accuracy").
    score = accuracy_score(val[1], model.predict(val[0]))
    tune.report({"val_accuracy": float(score), "train_rows": len(train[0])})


def tune_search(
    store,
    run_id: int,
    model_id: str,
    settings: list[dict[str, Any]],
    *,
    token_unit: str,
    seed: int,
) -> list[Trial]:
    """Score ``settings`` as Ray Tune trials on the cluster this process is connected to."""
    from ray import tune

    from slm_core.executors import task_cpus

    job = {
        "store_url": store.url,
        "home": str(store.home),
        "run_id": int(run_id),
        "model_id": model_id,
        "token_unit": token_unit,
        "seed": seed,
    }
    trainable = tune.with_resources(
        tune.with_parameters(_tune_trial, job=job), {"cpu": task_cpus()}
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"settings": tune.grid_search(settings)},
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max"),
        run_config=tune.RunConfig(
            name=f"sweep-run-{int(run_id)}",
            storage_path=str(store.home / "ray_results"),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    trials = []
    for result in grid:
        setting = dict(result.config["settings"])
        metrics = result.metrics or {}
        score = metrics.get("val_accuracy") if result.error is None else None
        trials.append(
            Trial(
                number=settings.index(setting),
                settings=setting,
                val_accuracy=None if score is None else float(score),
                train_rows=int(metrics.get("train_rows") or 0),
            )
        )
    return sorted(trials, key=lambda t: t.number)


def _ray_has_room() -> bool:
    """Whether this process is on a Ray cluster with a CPU free for a trial (a run's own task
    holds one: on a one-CPU cluster its trials could never start)."""
    try:
        import ray
    except ImportError:
        return False
    if not ray.is_initialized():
        return False
    from slm_core.executors import task_cpus

    return float(ray.available_resources().get("CPU", 0.0)) >= task_cpus()


# ------------------------------------------------------------------ the sweep of a run


def _split_texts(store, run_id: int):
    from slm_core.train import run_splits

    splits = run_splits(store, store.get_run(run_id))
    return (
        (splits.train["text"].tolist(), splits.train["label"].tolist()),
        (splits.val["text"].tolist(), splits.val["label"].tolist()),
    )


def engine_for_run() -> str:
    """``ray_tune`` inside a Ray task with a CPU to spare, else ``successive_halving``."""
    if os.environ.get("SLM_EXECUTOR", "").strip().lower() == "ray" and _ray_has_room():
        return "ray_tune"
    return "successive_halving"


def run_sweep(
    store,
    run_id: int,
    model_id: str,
    trials: int,
    train: tuple[list[str], list[str]],
    val: tuple[list[str], list[str]],
    *,
    token_unit: str,
    seed: int,
    checkpoint: Callable[[], None],
) -> SweepResult:
    """Sweep ``trials`` settings of ``model_id`` on the run's training and validation texts,
    store the result as the run's ``sweep`` result, and return it (its ``best`` is promoted).

    ``checkpoint`` raises CancelledError when the run was cancelled (between trials).
    """
    global _CHECKPOINT
    if not val[0]:
        raise TrainError("errors.sweep.no_validation")
    settings = draw_settings(model_id, trials, seed)
    engine = engine_for_run()
    if engine == "ray_tune":
        found = tune_search(store, run_id, model_id, settings, token_unit=token_unit, seed=seed)
    else:
        _CHECKPOINT = checkpoint
        try:
            found = halving_search(
                model_id,
                settings,
                train,
                val,
                token_unit=token_unit,
                seed=seed,
                cache=(str(store.home), store.get_run(run_id).dataset_id),
            )
        finally:
            _CHECKPOINT = lambda: None  # noqa: E731
    checkpoint()
    scored = [t for t in found if t.val_accuracy is not None]
    if not scored:
        raise TrainError("errors.sweep.no_trial_scored", model_id=model_id)
    # The best of the last rung (halving keeps training the best on more texts); ties go to
    # the setting drawn first.
    top_rung = max(t.rung for t in scored)
    best = max((t for t in scored if t.rung == top_rung), key=lambda t: (t.val_accuracy, -t.number))
    result = SweepResult(
        engine=engine,
        trials=found,
        best=dict(best.settings),
        best_val_accuracy=best.val_accuracy,
        space=search_space(model_id),
    )
    store_sweep(store, run_id, result.to_dict())
    return result


def store_sweep(store, run_id: int, sweep: dict[str, Any]) -> None:
    """Store a sweep (as :meth:`SweepResult.to_dict`): its trials as the run's child runs
    (``trial_runs``), the engine, the space and the settings promoted as its ``sweep`` result."""
    store.put_trial_runs(run_id, sweep["engine"], sweep.get("trials") or [])
    store.put_result(run_id, RESULT_KIND, {k: v for k, v in sweep.items() if k != "trials"})


def summary_text(sweep: dict[str, Any], lang: str = "en") -> str:
    """One sentence on a stored sweep: the engine, how many settings, the best and its score."""
    from slm_core.errors import render

    best = sweep.get("best_val_accuracy")
    settings = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in (sweep.get("best") or {}).items()
    )
    return render(
        "sweep.summary",
        lang,
        engine=render(f"sweep.engine_{sweep.get('engine')}", lang),
        n=len(sweep.get("trials") or []),
        best="-" if best is None else f"{best:.1%}",
        settings=settings,
    )


def stored_sweep(store, run_id: int) -> dict[str, Any] | None:
    """The stored sweep of a run (as :meth:`SweepResult.to_dict`, its trials read back from
    the run's child runs), or None."""
    sweep = store.get_result(run_id, RESULT_KIND)
    if sweep is None:
        return None
    trials = [
        asdict(
            Trial(
                number=t.number,
                settings=t.settings,
                val_accuracy=t.val_accuracy,
                train_rows=t.train_rows,
                rung=t.rung,
            )
        )
        for t in store.list_trial_runs(run_id)
    ]
    # A sweep stored before trials were child runs kept them in its result.
    return {**sweep, "trials": trials or list(sweep.get("trials") or [])}
