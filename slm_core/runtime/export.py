"""Export a saved Keras classifier to LiteRT (float32 and dynamic-range int8) and ONNX.

Text vectorisation stays outside the graph (a string-input graph needs Flex/unsupported ops in
both runtimes); every form takes int32 token ids. LiteRT forms get fixed-shape signatures
``b1`` and ``b32`` of ``(batch, max_len)``: with a dynamic batch dimension the LSTM's tensor-list
ops fail to lower ("Lowering tensor list ops is failed"), while fixed shapes convert to builtin
ops only. Variables are frozen into constants first: left as resource variables they are read
inside the recurrent WHILE loop and the LiteRT interpreter finds them uninitialised. ONNX keeps
both dimensions dynamic, so it runs each text at its own length.

Every form is checked against the Keras model's own test-split predictions (parity, see
:mod:`slm_core.runtime.parity`: agreement >= 99.5% and accuracy within 0.5 point, on texts the
model did not train on) and timed on single texts; the manifest names the fastest form that
passed, with that form's own accuracy, agreement and largest probability difference. A linear
model's one form, its compiled NumPy form (:mod:`slm_core.runtime.linear_form`), goes through
the same check against scikit-learn. TensorFlow is imported only inside these functions.
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

from slm_core.atomic import atomic_path
from slm_core.errors import SlmError
from slm_core.runtime.latency import LatencyConfig, time_calls
from slm_core.runtime.parity import (
    MAX_ACCURACY_DELTA,
    MIN_AGREEMENT,
    Parity,
    exact_parity,
    parity,
)
from slm_core.runtime.serve import (
    FORM_FILES,
    LITERT_BATCHES,
    MANIFEST_FILE,
    MANIFEST_VERSION,
    manifest_is_current,
    open_runtime,
)

__all__ = [
    "EXPORT_FORMS",
    "ExportManifest",
    "ExportedForm",
    "Parity",
    "export_litert",
    "export_model",
    "export_onnx",
    "manifest_is_current",
    "parity",
]

EXPORT_FORMS = ("litert_f32", "litert_int8", "onnx")
LINEAR_EXPORT_FORMS = ("numpy",)
ONNX_OPSET = 17
TIMING_CALLS = 200
TIMING_SECONDS = 1.0


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
    max_len: int  # 0 for a linear model
    served: str
    forms: dict[str, ExportedForm] = field(default_factory=dict)
    # The reference model compared with itself (its own accuracy, agreement 1, difference 0):
    # what the manifest reports when no exported form passed and the reference serves.
    reference: Parity | None = None
    source_mtime: float | None = None
    created_at: str = ""
    version: int = MANIFEST_VERSION

    @property
    def served_parity(self) -> Parity | None:
        """The served form's own accuracy, agreement and largest probability difference."""
        form = self.forms.get(self.served)
        return form.parity if form is not None else self.reference

    def to_dict(self) -> dict[str, Any]:
        served = self.served_parity
        return {
            "version": self.version,
            "model_id": self.model_id,
            "max_len": self.max_len,
            "served": self.served,
            "served_accuracy": None if served is None else served.accuracy,
            "served_agreement": None if served is None else served.agreement,
            "served_max_abs_diff": None if served is None else served.max_abs_diff,
            "served_parity": None if served is None else served.to_dict(),
            "reference_parity": None if self.reference is None else self.reference.to_dict(),
            "forms": {k: v.to_dict() for k, v in self.forms.items()},
            "source_mtime": self.source_mtime,
            "created_at": self.created_at,
            "batches": list(LITERT_BATCHES),
            "parity_rule": {
                "min_agreement": MIN_AGREEMENT,
                "max_accuracy_delta": MAX_ACCURACY_DELTA,
            },
        }

    def save(self, serving_dir: Path) -> Path:
        path = Path(serving_dir) / MANIFEST_FILE
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
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
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(flat)
    return len(flat)


def export_onnx(model, path: Path, opset: int = ONNX_OPSET) -> int:
    """Write an ONNX model with dynamic batch and length (tf2onnx); returns bytes."""
    tf = _tf()
    import tf2onnx

    spec = (tf.TensorSpec([None, None], tf.int32, name="ids"),)
    fn = tf.function(lambda ids: model(ids, training=False), input_signature=spec)
    with atomic_path(Path(path)) as tmp:
        tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset, output_path=str(tmp))
    return Path(path).stat().st_size


# ------------------------------------------------------------------------ a model


def export_model(
    model_dir: Path,
    serving_dir: Path,
    texts: Sequence[str],
    y_true: Sequence[str] | None = None,
    reference_proba: np.ndarray | None = None,
    *,
    forms: Sequence[str] | None = None,
    timing_calls: int = TIMING_CALLS,
    timing_seconds: float = TIMING_SECONDS,
    progress=None,
) -> ExportManifest:
    """Export a saved model, check parity on ``texts`` and choose the form to serve.

    ``texts`` and ``y_true`` must be texts the model did not train on: the benchmark passes
    the run's test split. ``reference_proba`` are the trained model's probabilities on
    ``texts`` (the run's stored test predictions, i.e. the evaluated answers); computed here
    when absent. A Keras model is exported to ``forms`` (default LiteRT float32/int8 and
    ONNX), a linear model to its compiled NumPy form. Each form's failure is recorded, never
    raised: the model then serves from the next passing form or from the reference model.
    ``progress(message)`` is called before each step.
    """
    from slm_core.models.registry import load_model

    say = progress or (lambda message: None)
    model_dir, serving_dir = Path(model_dir), Path(serving_dir)
    serving_dir.mkdir(parents=True, exist_ok=True)
    say("loading the trained model")
    classifier = load_model(model_dir)
    linear = not hasattr(classifier, "model_")
    texts = [str(t) for t in texts]
    features = texts if linear else classifier.encode(texts)
    if reference_proba is None:
        say("predicting with the trained model")
        reference_proba = (
            classifier.predict_proba(texts) if linear else classifier.predict_proba_ids(features)
        )
    check = _ParityCheck(
        features,
        np.asarray(reference_proba, dtype=np.float64),
        list(classifier.classes_),
        y_true,
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
    wanted = forms if forms is not None else LINEAR_EXPORT_FORMS if linear else EXPORT_FORMS
    export = _export_linear_form if linear else _export_form
    results: dict[str, ExportedForm] = {}
    for form in wanted:
        say(f"exporting {form}")
        results[form] = export(form, classifier, model_dir, serving_dir, check, timing, say)
    source = model_dir / ("model.joblib" if linear else "model.keras")
    manifest = ExportManifest(
        model_id=classifier.model_id,
        max_len=0 if linear else int(classifier.max_len_),
        served=_fastest_passing(results, "sklearn" if linear else "keras"),
        forms=results,
        reference=check.reference(),
        source_mtime=source.stat().st_mtime if source.exists() else None,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    manifest.save(serving_dir)
    return manifest


@dataclass(frozen=True)
class _ParityCheck:
    """The held-out texts as the model's input (token ids, or the texts themselves for a
    linear model) and what the trained model answered on them."""

    features: Any
    reference_proba: np.ndarray
    classes: list[str]
    y_true: Sequence[str] | None

    def compare(self, proba: np.ndarray, *, exact: bool = False) -> Parity:
        check = exact_parity if exact else parity
        return check(proba, self.reference_proba, self.classes, self.y_true)

    def reference(self) -> Parity:
        """The reference compared with itself: its own accuracy, full agreement."""
        return self.compare(self.reference_proba)


@dataclass(frozen=True)
class _Timing:
    """The texts and settings of the quick single-text timing of each form."""

    texts: list[str]
    config: LatencyConfig


def _failed(form: str, path: Path | None, started: float, exc: Exception) -> ExportedForm:
    if path is not None:
        path.unlink(missing_ok=True)
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    error = f"{type(exc).__name__}: {reason}"
    return ExportedForm(form, None, None, time.perf_counter() - started, error=error)


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
        compared = check.compare(runtime.run(check.features))
        del runtime
        predictor = load_predictor(model_dir, serving_dir=serving_dir, threads=1, form=form)
        stats, _ = time_calls(predictor.predict_one, timing.texts, timing.config)
        return ExportedForm(form, path.name, size, seconds, compared, stats.p50)
    except Exception as exc:  # one form failing must not stop the others
        return _failed(form, path, started, exc)


def _export_linear_form(
    form: str,
    classifier,
    model_dir: Path,
    serving_dir: Path,
    check: _ParityCheck,
    timing: _Timing,
    say: Callable[[str], None],
) -> ExportedForm:
    """Check (and for a model saved before it existed, write) the compiled NumPy form of a
    linear model: the file that will serve is the one checked; a failure is recorded."""
    from slm_core.runtime.linear_form import FORM_FILE, LinearForm, compile_linear
    from slm_core.runtime.serve import load_predictor

    started = time.perf_counter()
    path = None
    try:
        if form != "numpy":
            raise SlmError("errors.runtime_serve.unknown_form", form=form, choices="numpy")
        saved = model_dir / FORM_FILE
        if saved.is_file():
            path, compiled = saved, LinearForm.load(saved)
        else:  # saved before the compiled form existed: compile it from the pickle now
            path = serving_dir / FORM_FILE
            compiled = compile_linear(classifier)
            compiled.save(path)
        seconds = time.perf_counter() - started
        say("checking the compiled form against scikit-learn")
        compared = check.compare(compiled.predict_proba(check.features), exact=True)
        predictor = load_predictor(model_dir, serving_dir=serving_dir, threads=1, form=form)
        stats, _ = time_calls(predictor.predict_one, timing.texts, timing.config)
        size = path.stat().st_size
        return ExportedForm(form, path.name, size, seconds, compared, stats.p50)
    except Exception as exc:  # a failing form leaves scikit-learn serving
        keep = path is not None and path.parent == model_dir  # never delete the saved model's
        return _failed(form, None if keep else path, started, exc)


def _fastest_passing(forms: dict[str, ExportedForm], reference: str) -> str:
    """The passing form with the lowest single-text p50, else the reference model."""
    passing = [f for f in forms.values() if f.passed and f.p50_ms is not None]
    return min(passing, key=lambda f: f.p50_ms).name if passing else reference
