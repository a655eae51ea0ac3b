"""Export a saved Keras classifier to LiteRT (float32 and dynamic-range int8) and ONNX.

Text vectorisation stays outside the graph (a string-input graph needs Flex/unsupported ops in
both runtimes); every form takes int32 token ids. LiteRT forms get fixed-shape signatures
``b1`` and ``b32`` of ``(batch, max_len)``: with a dynamic batch dimension the LSTM's tensor-list
ops fail to lower ("Lowering tensor list ops is failed"), while fixed shapes convert to builtin
ops only. Variables are frozen into constants first: left as resource variables they are read
inside the recurrent WHILE loop and the LiteRT interpreter finds them uninitialised. ONNX keeps
both dimensions dynamic, so it runs each text at its own length.

Every form is checked against the Keras model's own test-split predictions (parity) and timed
on single texts; the manifest names the fastest form that passed. TensorFlow is imported only
inside these functions.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from slm_core.errors import SlmError
from slm_core.runtime.latency import LatencyConfig, time_calls
from slm_core.runtime.serve import (
    FORM_FILES,
    LITERT_BATCHES,
    MANIFEST_FILE,
    open_runtime,
)

MANIFEST_VERSION = 1
EXPORT_FORMS = ("litert_f32", "litert_int8", "onnx")
# An exported form serves only if its test accuracy is within this of the Keras model's.
PARITY_TOLERANCE = 0.01
ONNX_OPSET = 17
TIMING_CALLS = 200
TIMING_SECONDS = 1.0


@dataclass(frozen=True)
class Parity:
    """How an exported form's test-split predictions compare with the Keras model's own."""

    n: int
    accuracy: float | None  # of the exported form, against the true labels
    reference_accuracy: float | None  # of the Keras model, against the true labels
    agreement: float  # share of texts where both predict the same label
    max_abs_diff: float  # largest probability difference over all texts and classes
    tolerance: float = PARITY_TOLERANCE

    @property
    def accuracy_delta(self) -> float | None:
        if self.accuracy is None or self.reference_accuracy is None:
            return None
        return self.accuracy - self.reference_accuracy

    @property
    def passed(self) -> bool:
        delta = self.accuracy_delta
        if delta is None:  # no labels: judge by agreement instead
            return self.agreement >= 1.0 - self.tolerance
        return abs(delta) <= self.tolerance + 1e-12

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "reference_accuracy": self.reference_accuracy,
            "accuracy_delta": self.accuracy_delta,
            "agreement": self.agreement,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "passed": self.passed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parity:
        """Read :meth:`to_dict` back (the delta and the verdict follow from the figures)."""
        return cls(
            n=int(data.get("n") or 0),
            accuracy=data.get("accuracy"),
            reference_accuracy=data.get("reference_accuracy"),
            agreement=float(data.get("agreement") or 0.0),
            max_abs_diff=float(data.get("max_abs_diff") or 0.0),
            tolerance=float(data.get("tolerance", PARITY_TOLERANCE)),
        )


@dataclass(frozen=True)
class ExportedForm:
    """One exported form: its file, size, conversion time, parity and single-text speed."""

    name: str
    file: str | None
    bytes: int | None
    seconds: float | None
    parity: Parity | None = None
    p50_ms: float | None = None  # single text, 1 thread, vectorisation included
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.parity is not None and self.parity.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "parity": self.parity.to_dict() if self.parity else None,
            "p50_ms": self.p50_ms,
            "error": self.error,
            "passed": self.passed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportedForm:
        """Read :meth:`to_dict` back, as a manifest or a stored benchmark holds it."""
        parity = data.get("parity")
        return cls(
            name=str(data.get("name", "")),
            file=data.get("file"),
            bytes=data.get("bytes"),
            seconds=data.get("seconds"),
            parity=Parity.from_dict(parity) if isinstance(parity, Mapping) else None,
            p50_ms=data.get("p50_ms"),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class ExportManifest:
    """What was exported for one model and which form serves it."""

    model_id: str
    max_len: int
    served: str
    forms: dict[str, ExportedForm] = field(default_factory=dict)
    source_mtime: float | None = None
    created_at: str = ""
    version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model_id": self.model_id,
            "max_len": self.max_len,
            "served": self.served,
            "forms": {k: v.to_dict() for k, v in self.forms.items()},
            "source_mtime": self.source_mtime,
            "created_at": self.created_at,
            "batches": list(LITERT_BATCHES),
            "parity_tolerance": PARITY_TOLERANCE,
        }

    def save(self, serving_dir: Path) -> Path:
        path = Path(serving_dir) / MANIFEST_FILE
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return path


# --------------------------------------------------------------------- conversion


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def _frozen_signatures(model, max_len: int, batches: Sequence[int]) -> dict[str, Any]:
    """Concrete functions of fixed ``(batch, max_len)`` int32 input with weights as constants."""
    tf = _tf()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    out = {}
    for batch in batches:
        spec = tf.TensorSpec([batch, max_len], tf.int32, name="ids")
        fn = tf.function(lambda ids: {"probs": model(ids, training=False)}, input_signature=[spec])
        out[f"b{batch}"] = convert_variables_to_constants_v2(fn.get_concrete_function())
    return out


def export_litert(
    model,
    max_len: int,
    path: Path,
    *,
    quantize: bool = False,
    batches: Sequence[int] = LITERT_BATCHES,
) -> int:
    """Write a LiteRT flatbuffer with one fixed-batch signature per batch size; returns bytes.

    ``quantize`` applies dynamic-range quantisation (int8 weights, float activations).
    """
    tf = _tf()
    signatures = _frozen_signatures(model, int(max_len), batches)
    workdir = Path(tempfile.mkdtemp(prefix="slm_litert_"))
    try:
        # A SavedModel of the frozen functions gives named signatures that share weights.
        tf.saved_model.save(tf.Module(), str(workdir), signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(workdir), signature_keys=list(signatures)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        flat = converter.convert()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    Path(path).write_bytes(flat)
    return len(flat)


def export_onnx(model, path: Path, opset: int = ONNX_OPSET) -> int:
    """Write an ONNX model with dynamic batch and length (tf2onnx); returns bytes."""
    tf = _tf()
    import tf2onnx

    spec = (tf.TensorSpec([None, None], tf.int32, name="ids"),)
    fn = tf.function(lambda ids: model(ids, training=False), input_signature=spec)
    tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset, output_path=str(path))
    return Path(path).stat().st_size


# ------------------------------------------------------------------------- parity


def parity(
    proba: np.ndarray,
    reference_proba: np.ndarray,
    classes: Sequence[str],
    y_true: Sequence[str] | None = None,
    tolerance: float = PARITY_TOLERANCE,
) -> Parity:
    """Compare a form's probabilities with the reference model's on the same texts."""
    proba, reference_proba = np.asarray(proba), np.asarray(reference_proba)
    if proba.shape != reference_proba.shape:
        raise SlmError("errors.runtime_export.class_count_differs")
    pred, ref = proba.argmax(axis=1), reference_proba.argmax(axis=1)
    n = len(pred)
    accuracy = reference_accuracy = None
    if y_true is not None and n:
        labels = np.array([str(v) for v in y_true], dtype=object)
        names = np.array(list(classes), dtype=object)
        accuracy = float(np.mean(names[pred] == labels))
        reference_accuracy = float(np.mean(names[ref] == labels))
    return Parity(
        n=n,
        accuracy=accuracy,
        reference_accuracy=reference_accuracy,
        agreement=float(np.mean(pred == ref)) if n else 1.0,
        max_abs_diff=float(np.abs(proba - reference_proba).max()) if n else 0.0,
        tolerance=tolerance,
    )


# ------------------------------------------------------------------------ a model


def export_model(
    model_dir: Path,
    serving_dir: Path,
    texts: Sequence[str],
    y_true: Sequence[str] | None = None,
    reference_proba: np.ndarray | None = None,
    *,
    forms: Sequence[str] = EXPORT_FORMS,
    tolerance: float = PARITY_TOLERANCE,
    timing_calls: int = TIMING_CALLS,
    timing_seconds: float = TIMING_SECONDS,
    progress=None,
) -> ExportManifest:
    """Export a saved Keras model, check parity on ``texts`` and choose the form to serve.

    ``reference_proba`` are the Keras model's probabilities on ``texts`` (the run's stored
    test predictions); computed here when absent. Each form's failure is recorded, never
    raised: the model then serves from the next passing form or from Keras itself.
    ``progress(message)`` is called before each step.
    """
    from slm_core.models.registry import load_model

    say = progress or (lambda message: None)
    model_dir, serving_dir = Path(model_dir), Path(serving_dir)
    serving_dir.mkdir(parents=True, exist_ok=True)
    say("loading the Keras model")
    classifier = load_model(model_dir)
    if not hasattr(classifier, "model_"):
        raise SlmError("errors.runtime_export.linear_not_exported")
    texts = [str(t) for t in texts]
    ids = classifier.encode(texts)
    if reference_proba is None:
        say("predicting with the Keras model")
        reference_proba = classifier.predict_proba_ids(ids)
    check = _ParityCheck(
        ids,
        np.asarray(reference_proba, dtype=np.float64),
        list(classifier.classes_),
        y_true,
        tolerance,
    )
    timing = _Timing(
        [t for t in texts[:500] if t.strip()] or ["?"],
        LatencyConfig(
            min_calls=timing_calls,
            min_seconds=timing_seconds,
            max_seconds=max(2.0, 3 * timing_seconds),
            warmup_calls=5,
        ),
    )
    results: dict[str, ExportedForm] = {}
    for form in forms:
        say(f"exporting {form}")
        results[form] = _export_form(form, classifier, model_dir, serving_dir, check, timing, say)
    source = model_dir / "model.keras"
    manifest = ExportManifest(
        model_id=classifier.model_id,
        max_len=int(classifier.max_len_),
        served=_fastest_passing(results),
        forms=results,
        source_mtime=source.stat().st_mtime if source.exists() else None,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    manifest.save(serving_dir)
    return manifest


@dataclass(frozen=True)
class _ParityCheck:
    """The test texts as token ids and what the Keras model answered on them."""

    ids: np.ndarray
    reference_proba: np.ndarray
    classes: list[str]
    y_true: Sequence[str] | None
    tolerance: float


@dataclass(frozen=True)
class _Timing:
    """The texts and settings of the quick single-text timing of each form."""

    texts: list[str]
    config: LatencyConfig


def _export_form(
    form: str,
    classifier,
    model_dir: Path,
    serving_dir: Path,
    check: _ParityCheck,
    timing: _Timing,
    say: Callable[[str], None],
) -> ExportedForm:
    """Export one form, check its parity and time it; a failure is recorded, never raised."""
    from slm_core.runtime.serve import load_predictor

    path = serving_dir / FORM_FILES[form]
    started = time.perf_counter()
    try:
        if form == "onnx":
            size = export_onnx(classifier.model_, path)
        else:
            size = export_litert(
                classifier.model_, classifier.max_len_, path, quantize=form == "litert_int8"
            )
        seconds = time.perf_counter() - started
        say(f"checking {form} against the Keras model")
        runtime = open_runtime(form, serving_dir, threads=os.cpu_count())
        compared = parity(
            runtime.run(check.ids),
            check.reference_proba,
            check.classes,
            check.y_true,
            check.tolerance,
        )
        del runtime
        predictor = load_predictor(model_dir, serving_dir=serving_dir, threads=1, form=form)
        stats, _ = time_calls(predictor.predict_one, timing.texts, timing.config)
        return ExportedForm(form, path.name, size, seconds, compared, stats.p50)
    except Exception as exc:  # one form failing must not stop the others
        path.unlink(missing_ok=True)
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        error = f"{type(exc).__name__}: {reason}"
        return ExportedForm(form, None, None, time.perf_counter() - started, error=error)


def _fastest_passing(forms: dict[str, ExportedForm]) -> str:
    """The passing form with the lowest single-text p50, else 'keras'."""
    passing = [f for f in forms.values() if f.passed and f.p50_ms is not None]
    return min(passing, key=lambda f: f.p50_ms).name if passing else "keras"


def manifest_is_current(manifest: dict[str, Any] | None, model_dir: Path) -> bool:
    """Whether a stored manifest was made from the model now in ``model_dir``."""
    if not manifest or manifest.get("version") != MANIFEST_VERSION:
        return False
    source = Path(model_dir) / "model.keras"
    if not source.exists():
        return False
    mtime = manifest.get("source_mtime")
    return mtime is not None and abs(float(mtime) - source.stat().st_mtime) < 1e-3
