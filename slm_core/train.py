"""Train one stored run end to end: split, fit, evaluate on the test split, save artifacts.

``execute_run`` is the job target the background worker calls in a child process; the CLI calls
it in-process through ``jobs.run_inline`` so both paths store runs identically.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from slm_core.atomic import atomic_path
from slm_core.data.shards import ShardSet, write_shards
from slm_core.data.split import make_splits
from slm_core.data.types import SplitConfig, Splits
from slm_core.energy import track_training
from slm_core.errors import CancelledError, NotFoundError, SlmError, TrainError, render
from slm_core.metrics import headline_metrics
from slm_core.models.base import TrainCallbacks
from slm_core.models.keras_shards import stream_rows
from slm_core.models.registry import build
from slm_core.store.files import storage_error
from slm_core.store.records import RunProgress
from slm_core.sweeps import SWEEP_KEY, run_sweep, trials_requested

log = logging.getLogger(__name__)

MODEL_SUBDIR = "model"
PREDICTIONS_FILE = "test_predictions.parquet"
# Validation predictions choose (confidence thresholds on the Value page); test only reports.
PREDICTION_FILES = {"test": PREDICTIONS_FILE, "validation": "val_predictions.parquet"}
# Run-level settings stored in a run's params beside the model's own hyper-parameters.
RUN_KEYS = ("seed", "split_seed", SWEEP_KEY)
# Progress messages are stage keys (translated by the UI as ``stage.<key>``).
# Progress and cancel checks hit the database; once per this many seconds is live enough.
POLL_SECONDS = 0.5


def split_config_for(dataset_split_config: dict, params: dict) -> SplitConfig:
    """The dataset's split settings, with the run's own split seed when it has one."""
    config = SplitConfig(**dataset_split_config)
    if params.get("split_seed") is not None:
        config = replace(config, seed=int(params["split_seed"]))
    return config


class StoreCallbacks:
    """Forward model progress to the run store, throttled, and poll for cancellation.

    Batch progress and cancel checks hit the database at most every ``min_interval_s``; the
    last batch of an epoch and every epoch end are always written.
    """

    def __init__(
        self, store, run_id: int, epochs: int = 1, min_interval_s: float = POLL_SECONDS
    ) -> None:
        self.store, self.run_id = store, run_id
        self.epochs, self.min_interval_s = epochs, min_interval_s
        self._last_progress = self._last_cancel_check = float("-inf")
        self._cancelled = False

    def on_batch(self, epoch: int, batch: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_progress < self.min_interval_s and batch + 1 < total:
            return
        self._last_progress = now
        fraction = (epoch + (batch + 1) / max(total, 1)) / max(self.epochs, 1)
        self.store.set_progress(
            self.run_id,
            RunProgress(epoch + 1, self.epochs, batch + 1, total, min(fraction, 1.0), "training"),
        )

    def on_epoch(self, epoch: int, total: int, logs: dict[str, float]) -> None:
        self.epochs = total
        self.store.append_history(self.run_id, {k: float(v) for k, v in logs.items()})
        self.store.set_progress(
            self.run_id,
            RunProgress(epoch + 1, total, 0, 0, (epoch + 1) / max(total, 1), "epoch_done"),
        )

    def on_stage(self, stage: str, done: int, total: int) -> None:
        """Work before the first epoch (``stage`` is a stage key, e.g. "embedding")."""
        now = time.monotonic()
        if now - self._last_progress < self.min_interval_s and done < total:
            return
        self._last_progress = now
        fraction = done / max(total, 1)
        self.store.set_progress(
            self.run_id, RunProgress(0, self.epochs, done, total, min(fraction, 1.0), stage)
        )

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check >= self.min_interval_s:
            self._last_cancel_check = now
            self._cancelled = self.store.is_cancel_requested(self.run_id)
        return self._cancelled

    def as_callbacks(self) -> TrainCallbacks:
        return TrainCallbacks(
            on_batch=self.on_batch,
            on_epoch=self.on_epoch,
            should_stop=self.should_stop,
            on_stage=self.on_stage,
        )


def directory_size(path: Path) -> int:
    """Bytes on disk of every file under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_splits(store, run) -> Splits:
    """The splits ``run`` trains on, rebuilt from its dataset's stored rows and its settings."""
    dataset = store.get_dataset(run.dataset_id)
    config = split_config_for(dataset.split_config, dict(run.params))
    return make_splits(store.load_frame(run.dataset_id), config)


def train_stored_run(store, run_id: int) -> dict:
    """Fit, evaluate and save one run; returns its metrics. Raises SlmError subclasses."""
    run = store.get_run(run_id)
    dataset = store.get_dataset(run.dataset_id)
    frame = store.load_frame(run.dataset_id)
    params = dict(run.params)
    config = split_config_for(dataset.split_config, params)
    store.set_progress(run_id, RunProgress(message="splitting"))
    splits = make_splits(frame, config)
    token_unit = dataset.report.get("token_unit", "word")
    model_params = {k: v for k, v in params.items() if k not in RUN_KEYS}
    seed = int(params.get("seed", config.seed))
    trials = trials_requested(params)
    if trials:  # choose the settings on the validation split first, then train the best
        store.set_progress(run_id, RunProgress(message="sweeping"))
        # Checked between trials every time: a try takes seconds, a cancel must not wait two.
        between_trials = StoreCallbacks(store, run_id, min_interval_s=0.0).as_callbacks()
        swept = run_sweep(
            store,
            run_id,
            run.model_id,
            trials,
            (splits.train["text"].tolist(), splits.train["label"].tolist()),
            (splits.val["text"].tolist(), splits.val["label"].tolist()),
            token_unit=token_unit,
            seed=seed,
            checkpoint=between_trials.stop_if_asked,
        )
        model_params.update(swept.best)
        store.update_params(run_id, {**params, **swept.best})
    model = build(
        run.model_id, run.preset or "balanced", model_params, token_unit=token_unit, seed=seed
    )

    if hasattr(model, "use_embedding_cache"):  # a pretrained encoder: texts embedded once
        model.use_embedding_cache(store.home, run.dataset_id)
    sink = StoreCallbacks(store, run_id, epochs=int(model.get_params().get("epochs") or 1))
    sizes = splits.sizes()
    streamed = hasattr(model, "fit_shards") and sizes["train"] > stream_rows()[0]
    # Every file goes into a staging folder that becomes runs/<id>/ in one rename once all are
    # written: a kill or a full disk half-way leaves no artifact folder, only the staging one,
    # which is removed here or by whoever notices the worker died. A streamed run makes it
    # first, since its shards lie beside it and would go with it (see split_shards).
    out = store.staging_dir(run_id) if streamed else None
    scratch = out.with_name(f".{int(run_id)}.shards-{os.getpid()}") if out else None
    try:
        if scratch is not None:
            store.set_progress(run_id, RunProgress(message="sharding"))
            shards = split_shards(splits, scratch, seed)
            del frame, splits  # the model reads the shards from here on
        store.set_progress(run_id, RunProgress(message="training"))
        started = time.perf_counter()
        with track_training() as meter:
            if scratch is not None:
                model.fit_shards(shards["train"], shards["val"], callbacks=sink.as_callbacks())
            else:
                model.fit(
                    splits.train["text"].tolist(),
                    splits.train["label"].tolist(),
                    splits.val["text"].tolist(),
                    splits.val["label"].tolist(),
                    callbacks=sink.as_callbacks(),
                )
        train_seconds = time.perf_counter() - started
        if sink.should_stop():
            raise CancelledError("errors.run.cancelled")

        store.set_progress(run_id, RunProgress(fraction=1.0, message="evaluating"))
        classes = list(model.classes_)
        if scratch is not None:
            test, proba = predict_in_chunks(model, shards["test"], len(classes))
            val, val_proba = predict_in_chunks(model, shards["val"], len(classes))
        else:
            test, val = splits.test, splits.val
            proba = model.predict_proba(test["text"].tolist())
            val_proba = model.predict_proba(val["text"].tolist())
        predicted = [classes[i] for i in proba.argmax(axis=1)]
        metrics = headline_metrics(test["label"].tolist(), predicted)

        out = out or store.staging_dir(run_id)
        model_dir = out / MODEL_SUBDIR
        model.save(model_dir)
        save_predictions(out, "test", test, proba, classes)
        save_predictions(out, "validation", val, val_proba, classes)
        (out / "history.json").write_text(json.dumps(model.history_), encoding="utf-8")
        metrics.update(meter.metrics())
        metrics.update(
            train_seconds=train_seconds,
            n_params=int(getattr(model, "n_params_", 0)),
            model_size_bytes=directory_size(model_dir),
            split_sizes=sizes,
            split_seed=config.seed,
            classes=classes,
            train_samples_per_second=sizes["train"]
            * len(model.history_.get("loss", [1]))
            / max(train_seconds, 1e-9),
        )
        # Linear models: in memory or out of core; Keras models: in memory or streamed.
        if getattr(model, "training_mode_", None):
            metrics["training_mode"] = dict(model.training_mode_)
        store.publish_artifacts(run_id, out)
    except BaseException:
        if out is not None:
            store.discard_staging(run_id)
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return metrics


# Rows per prediction call on a streamed run's test and validation splits: the ids of this
# many texts, not of the whole split, are in memory at once.
PREDICT_CHUNK = 10_000


def split_shards(splits: Splits, folder: Path, seed: int) -> dict[str, ShardSet]:
    """Write the three splits as Parquet shards under ``folder`` (train rows shuffled).

    ``folder`` is the run's own, named ``.<run id>.shards-<pid>`` beside its staging folder:
    two runs never share it, and whatever cleans up after a killed worker's staging folder
    (``discard_staging``: every ``.<run id>.*``) removes its shards too. Not a cache shared
    across runs: writing is seconds against minutes of training, and a shared cache would need
    its own locking and eviction.
    """
    return {
        "train": write_shards(splits.train, folder / "train", seed=seed),
        "val": write_shards(splits.val, folder / "val"),
        "test": write_shards(splits.test, folder / "test"),
    }


def predict_in_chunks(model, shards: ShardSet, n_classes: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A split read back from its shards, and the model's class probabilities on it,
    ``PREDICT_CHUNK`` texts at a time."""
    frame = shards.to_frame()
    texts = frame["text"]
    parts = [
        np.asarray(model.predict_proba(texts.iloc[i : i + PREDICT_CHUNK].tolist()))
        for i in range(0, len(frame), PREDICT_CHUNK)
    ]
    return frame, np.concatenate(parts) if parts else np.zeros((0, n_classes))


def execute_run(store_url: str, home: str, run_id: int) -> None:
    """Job target: train a claimed run and record its outcome in the store, never raising."""
    from slm_core.store import RunStore

    store = RunStore(store_url, Path(home))
    started = time.perf_counter()
    try:
        metrics = train_stored_run(store, run_id)
    except CancelledError:
        store.finish_run(
            run_id,
            "cancelled",
            error=render("errors.run.cancelled"),
            train_seconds=time.perf_counter() - started,
        )
    except SlmError as exc:
        store.finish_run(run_id, "failed", error=str(exc))
    except MemoryError:
        store.finish_run(
            run_id,
            "failed",
            error=render("errors.run.out_of_memory_train"),
        )
    except Exception as exc:  # a crash in one run must not take the others down
        traceback.print_exc()
        full_or_denied = storage_error(exc, store.home, run=True)
        reason = " ".join(str(exc).split())[:300]
        store.finish_run(
            run_id,
            "failed",
            error=str(full_or_denied)
            if full_or_denied is not None
            else render("errors.run.crashed", kind=type(exc).__name__, reason=reason),
        )
    else:
        _store_evaluation(store, run_id)
        store.finish_run(
            run_id,
            "succeeded",
            metrics=metrics,
            train_seconds=metrics["train_seconds"],
            artifact_path=str(store.artifact_dir(run_id)),
        )
        # The value checks (robustness, faithfulness) are measured here, in the background job,
        # so that no page has to; the run shows as finished meanwhile and stays succeeded.
        from slm_core.value.checks_job import measure_after_training

        measure_after_training(store, run_id)


def _store_evaluation(store, run_id: int) -> None:
    """Store the run's test evaluation (its intervals) before the run is recorded as succeeded,
    so that Results renders it from the store from the first visit on; never raises: a run
    whose evaluation could not be stored still succeeded, and Results computes it instead."""
    from slm_core.evaluate import store_evaluation

    try:
        store_evaluation(store, run_id)
    except Exception:
        log.exception("run %s: the test evaluation could not be stored", run_id)


def save_predictions(out: Path, split: str, frame: pd.DataFrame, proba, classes) -> Path:
    """Write one split's texts, labels, predictions and class probabilities as Parquet."""
    proba = np.asarray(proba, dtype=float).reshape(len(frame), len(classes))
    predicted = [classes[i] for i in proba.argmax(axis=1)] if len(frame) else []
    table = pd.DataFrame(
        {
            "text": frame["text"].tolist(),
            "label": frame["label"].tolist(),
            "predicted": predicted,
        }
    )
    if "group" in frame:
        table["group"] = frame["group"].tolist()
    for j, cls in enumerate(classes):
        table[f"p:{cls}"] = proba[:, j]
    path = out / PREDICTION_FILES[split]
    with atomic_path(path) as tmp:  # a run's folder may be in use (validation added later)
        table.to_parquet(tmp, index=False)
    return path


@dataclass(frozen=True)
class TestPredictions:
    """A finished run's predictions on one split, as saved by ``save_predictions``
    (``texts`` empty when read without them: ``load_predictions(..., with_texts=False)``)."""

    texts: list[str]
    y_true: list[str]
    y_pred: list[str]
    proba: np.ndarray  # (n, len(classes)), columns in ``classes`` order
    classes: list[str]
    groups: list[str] | None = None


def load_predictions(
    store, run_id: int, split: str = "test", *, with_texts: bool = True
) -> TestPredictions:
    """Read a finished run's predictions on ``split`` (NotFoundError if it has none).

    ``with_texts=False`` leaves the texts, most of the file, unread (``texts`` is empty): the
    evaluation and the value figures need only the labels and probabilities, and on a large
    split reading the texts was most of a first visit's wait for them.
    """
    path = store.artifact_dir(run_id) / PREDICTION_FILES[split]
    if not path.exists():
        key = (
            "errors.train.run_no_test_predictions"
            if split == "test"
            else "errors.train.run_no_val_predictions"
        )
        raise NotFoundError(key, run_id=run_id)
    columns = None
    if not with_texts:
        import pyarrow.parquet as pq

        columns = [c for c in pq.read_schema(path).names if c != "text"]
    frame = pd.read_parquet(path, columns=columns)
    prob_cols = [c for c in frame.columns if c.startswith("p:")]
    return TestPredictions(
        texts=frame["text"].tolist() if with_texts else [],
        y_true=frame["label"].astype(str).tolist(),
        y_pred=frame["predicted"].astype(str).tolist(),
        proba=frame[prob_cols].to_numpy(dtype=float),
        classes=[c[2:] for c in prob_cols],
        groups=frame["group"].astype(str).tolist() if "group" in frame else None,
    )


def load_test_predictions(store, run_id: int, *, with_texts: bool = True) -> TestPredictions:
    """Read ``test_predictions.parquet`` of a finished run (NotFoundError if it has none)."""
    return load_predictions(store, run_id, "test", with_texts=with_texts)


def predict_validation(store, run_id: int, model) -> TestPredictions:
    """Predict and store the validation split of a run trained before it was stored.

    The split is rebuilt from the dataset's stored rows and the run's split settings. If the
    rebuilt test split is not the one the run stored (the split rules changed since, e.g. the
    near-duplicate keys of issue 12), its validation split may hold texts the model trained on:
    ``TrainError`` then, rather than validation figures that are not.
    """
    splits = run_splits(store, store.get_run(run_id))
    stored_test = sorted(load_predictions(store, run_id, "test").texts)
    if stored_test != sorted(splits.test["text"].tolist()):
        raise TrainError("errors.train.split_changed_since_training", run_id=run_id)
    classes = [str(c) for c in model.classes_]
    proba = (
        model.predict_proba(splits.val["text"].tolist())
        if len(splits.val)
        else np.zeros((0, len(classes)))
    )
    save_predictions(store.artifact_dir(run_id), "validation", splits.val, proba, classes)
    store.sync_artifacts(run_id)  # other machines sharing SLM_ARTIFACTS need not predict again
    return load_predictions(store, run_id, "validation")
