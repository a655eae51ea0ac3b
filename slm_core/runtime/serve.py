"""Serving: raw text in, label and probabilities out, with the fastest form that passed parity.

A :class:`Predictor` splits every prediction into two timed halves, ``vectorize`` (plain
Python/NumPy: the saved vocabulary for Keras models, the compiled TF-IDF for linear ones) and
``infer`` (the runtime), so the benchmark can report the vectorisation share. Keras models are
served from their exported LiteRT or ONNX file (see :mod:`slm_core.runtime.export`); TensorFlow
is imported only for the ``keras`` fallback form, used when no exported form exists or passed.
Linear models are served from their compiled NumPy form (:mod:`slm_core.runtime.linear_form`);
scikit-learn is imported only for the ``sklearn`` form, the reference, used when the compiled
form failed its parity check or is asked for by name. A stored parity verdict is always judged
again by today's rule (:mod:`slm_core.runtime.parity`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from slm_core.errors import NotFoundError, SlmError

SERVING_DIR = "serving"
MANIFEST_FILE = "manifest.json"
# Fixed batch sizes of the exported LiteRT signatures ("b1", "b32"): LSTM conversion with a
# dynamic batch dimension fails ("Lowering tensor list ops is failed").
LITERT_BATCHES = (1, 32)
FORM_FILES = {
    "litert_f32": "model_f32.tflite",
    "litert_int8": "model_int8.tflite",
    "onnx": "model.onnx",
}
NEURAL_FORMS = ("litert_f32", "litert_int8", "onnx", "keras")
# "numpy": the compiled vocabulary -> weight-rows form (slm_core.runtime.linear_form);
# "sklearn": the pickled scikit-learn model itself, the reference it is checked against.
LINEAR_FORMS = ("numpy", "sklearn")
MANIFEST_VERSION = 2  # 2: parity judged by agreement and accuracy; linear models exported too
# The file a manifest was made from, per family: a newer file makes the manifest stale.
SOURCE_FILES = ("model.keras", "model.joblib")


class Runtime(Protocol):
    """Class probabilities for an ``(n, max_len)`` int32 id matrix (rows not normalised)."""

    name: str

    def run(self, ids: np.ndarray) -> np.ndarray: ...


def thread_count(threads: int | None) -> int:
    """``threads`` or, for None/0, every core this process may use."""
    if threads:
        return max(1, int(threads))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class LiteRTRuntime:
    """A LiteRT model with fixed-shape signatures ``b1`` and ``b32`` (ai-edge-litert)."""

    def __init__(self, path: Path, threads: int | None = None, name: str = "litert_f32"):
        from ai_edge_litert.interpreter import Interpreter

        self.name = name
        self.path = Path(path)
        self._interpreter = Interpreter(
            model_path=str(self.path), num_threads=thread_count(threads)
        )
        signatures = self._interpreter.get_signature_list()
        self._runners: dict[int, Any] = {}
        self._output: dict[int, str] = {}
        for batch in LITERT_BATCHES:
            key = f"b{batch}"
            if key in signatures:
                self._runners[batch] = self._interpreter.get_signature_runner(key)
                self._output[batch] = signatures[key]["outputs"][0]
        if 1 not in self._runners:
            raise SlmError("errors.runtime_serve.no_batch_of_one_signature", name=self.path.name)
        self.max_len = int(self._runners[1].get_input_details()["ids"]["shape"][1])

    def _call(self, batch: int, ids: np.ndarray) -> np.ndarray:
        return self._runners[batch](ids=ids)[self._output[batch]]

    def run(self, ids: np.ndarray) -> np.ndarray:
        ids = _fit_width(np.ascontiguousarray(ids, dtype=np.int32), self.max_len)
        big = max(self._runners)
        parts = []
        for start in range(0, len(ids), big):
            rows = ids[start : start + big]
            if len(rows) == big:
                parts.append(self._call(big, rows))
            elif len(rows) > big // 4:
                # Padding a partial chunk to the big signature beats many single calls.
                padded = np.zeros((big, ids.shape[1]), dtype=np.int32)
                padded[: len(rows)] = rows
                parts.append(self._call(big, padded)[: len(rows)])
            else:
                parts.extend(self._call(1, rows[i : i + 1]) for i in range(len(rows)))
        if not parts:
            return np.zeros((0, 0))
        return np.asarray(np.concatenate(parts, axis=0), dtype=np.float64)


class OnnxRuntime:
    """An ONNX model with dynamic batch and length (onnxruntime, CPU)."""

    def __init__(self, path: Path, threads: int | None = None, name: str = "onnx"):
        import onnxruntime as ort

        self.name = name
        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = thread_count(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle worker threads would otherwise spin and be billed as CPU time.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    def run(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int32)
        # Padding is masked inside the model, so trailing all-padding columns can go.
        width = int(max(1, (ids != 0).sum(axis=1).max())) if ids.size else 1
        out = self._session.run(None, {self._input: np.ascontiguousarray(ids[:, :width])})[0]
        return np.asarray(out, dtype=np.float64)


class KerasRuntime:
    """The Keras model itself through its traced ``tf.function`` (the slow fallback)."""

    name = "keras"

    def __init__(self, classifier: Any):
        self._classifier = classifier

    def run(self, ids: np.ndarray) -> np.ndarray:
        return self._classifier.predict_proba_ids(ids)


def _fit_width(ids: np.ndarray, width: int) -> np.ndarray:
    if ids.shape[1] == width:
        return ids
    if ids.shape[1] > width:
        return np.ascontiguousarray(ids[:, :width])
    out = np.zeros((len(ids), width), dtype=np.int32)
    out[:, : ids.shape[1]] = ids
    return out


@dataclass(frozen=True)
class Prediction:
    """One text's predicted label and every class's probability."""

    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": dict(self.probabilities)}


class Predictor:
    """Text -> label + probabilities for one saved model, in the form chosen for serving.

    Behaves like a fitted classifier (``classes_``, ``predict_proba``, ``predict``) so pages
    can use it where they used the loaded model.
    """

    def __init__(
        self,
        *,
        model_id: str,
        family: str,
        form: str,
        classes: Sequence[str],
        threads: int,
        vectorize,
        infer,
        parity: dict[str, Any] | None = None,
        files: Sequence[Path] = (),
    ):
        self.model_id = model_id
        self.family = family
        self.form = form
        self.classes_ = [str(c) for c in classes]
        self.threads = threads
        self.parity = parity
        self.files = tuple(Path(f) for f in files)
        self._vectorize = vectorize
        self._infer = infer

    def vectorize(self, texts: Sequence[str]) -> Any:
        """Model input for ``texts``: int32 token ids (Keras) or TF-IDF features (linear)."""
        return self._vectorize(list(texts))

    def infer(self, features: Any) -> np.ndarray:
        """Class probabilities ``(n, classes)``, rows summing to 1, for vectorised texts."""
        proba = np.asarray(self._infer(features), dtype=np.float64)
        total = proba.sum(axis=1, keepdims=True)
        return proba / np.where(total > 0, total, 1.0)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self.infer(self.vectorize(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def predict_one(self, text: str) -> Prediction:
        """The app's single-text path: raw text in, label and probabilities out."""
        row = self.predict_proba([text])[0]
        return Prediction(
            self.classes_[int(row.argmax())],
            {c: float(p) for c, p in zip(self.classes_, row, strict=True)},
        )

    @property
    def artifact_bytes(self) -> int:
        """Bytes on disk of what serving needs (model file, vocabulary, metadata)."""
        return sum(f.stat().st_size for f in self.files if f.is_file())


# --------------------------------------------------------------------------- loading


def read_manifest(serving_dir: Path) -> dict[str, Any] | None:
    """The export manifest of a model, or None when it has not been exported."""
    path = Path(serving_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def manifest_is_current(manifest: dict[str, Any] | None, model_dir: Path) -> bool:
    """Whether a stored manifest was made, under today's rule, from the model now in
    ``model_dir``."""
    if not manifest or manifest.get("version") != MANIFEST_VERSION:
        return False
    sources = [Path(model_dir) / name for name in SOURCE_FILES]
    source = next((path for path in sources if path.exists()), None)
    if source is None:
        return False
    mtime = manifest.get("source_mtime")
    return mtime is not None and abs(float(mtime) - source.stat().st_mtime) < 1e-3


def default_serving_dir(model_dir: Path) -> Path:
    """``<run>/serving`` beside ``<run>/model``."""
    return Path(model_dir).parent / SERVING_DIR


def open_runtime(form: str, serving_dir: Path, threads: int | None) -> Runtime:
    """The runtime of one exported form (LiteRT or ONNX)."""
    if form not in FORM_FILES:
        raise SlmError(
            "errors.runtime_serve.unknown_form",
            form=form,
            choices=", ".join(FORM_FILES),
        )
    path = Path(serving_dir) / FORM_FILES[form]
    if not path.is_file():
        raise NotFoundError("errors.runtime_serve.export_missing", name=path.name)
    if form == "onnx":
        return OnnxRuntime(path, threads)
    return LiteRTRuntime(path, threads, name=form)


def load_predictor(
    model_dir: Path,
    *,
    serving_dir: Path | None = None,
    threads: int | None = None,
    form: str | None = None,
) -> Predictor:
    """A :class:`Predictor` for a saved model.

    Parameters
    ----------
    model_dir
        The directory ``save()`` wrote (``model.json`` inside).
    serving_dir
        Where the exported forms and their manifest are; default ``<run>/serving``.
    threads
        Threads for the runtime; None = every available core.
    form
        Force a form ("litert_f32", "litert_int8", "onnx", "keras"; "numpy", "sklearn" for
        linear models); default is the manifest's served form when its parity passes today's
        rule, else "keras" for a Keras model and "numpy" for a linear one (unless its parity
        check failed: then "sklearn").
    """
    from slm_core.models.saved import META_FILE, read_meta

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    n_threads = thread_count(threads)
    meta_file = model_dir / META_FILE
    serving_dir = Path(serving_dir) if serving_dir else default_serving_dir(model_dir)
    if meta.get("family") == "linear":
        if form not in (None, *LINEAR_FORMS):
            raise SlmError(
                "errors.runtime_serve.unknown_form", form=form, choices=", ".join(LINEAR_FORMS)
            )
        return _linear_predictor(model_dir, meta, serving_dir, n_threads, form, meta_file)
    return _neural_predictor(model_dir, meta, serving_dir, n_threads, form, meta_file)


def _neural_predictor(
    model_dir: Path,
    meta: dict,
    serving_dir: Path,
    threads: int,
    form: str | None,
    meta_file: Path,
) -> Predictor:
    """A Keras model served in its chosen form: the saved vocabulary (a pretrained encoder's
    word-piece tokenizer), then the runtime."""
    files = dict(meta.get("files") or {})
    weights: tuple[Path, ...] = ()  # a pretrained encoder's, when the Keras form serves
    if meta.get("family") == "pretrained":
        from slm_core.models.minilm.head import serving_vectorizer

        vectorize, vocab_file, encoder_weights = serving_vectorizer(meta)
        weights = (encoder_weights,)
        if files.get("encoder_layers"):  # a fine-tuned model's own layers, read beside it
            weights += (model_dir / files["encoder_layers"],)
    else:
        from slm_core.models.tokenize import Vocabulary

        vocab_file = model_dir / files.get("vocabulary", "vocab.json")
        vocabulary = Vocabulary.load(vocab_file)
        max_len = int(meta["max_len"])

        def vectorize(texts: list[str]) -> np.ndarray:
            return vocabulary.encode(texts, max_len)

    served = _served_form(model_dir, files, serving_dir, threads, form)
    return Predictor(
        model_id=str(meta["model_id"]),
        family=str(meta.get("family") or "neural"),
        form=served.form,
        classes=meta["classes"],
        threads=threads,
        vectorize=vectorize,
        infer=served.runtime.run,
        parity=served.parity,
        files=(
            served.model_file,
            vocab_file,
            meta_file,
            *(weights if served.form == "keras" else ()),
        ),
    )


@dataclass(frozen=True)
class _Served:
    """The form that serves a Keras model, its runtime, its model file and its parity."""

    form: str
    runtime: Runtime
    model_file: Path
    parity: dict[str, Any] | None


def _served_form(
    model_dir: Path, files: dict, serving_dir: Path, threads: int, form: str | None
) -> _Served:
    """The form asked for, else the fastest exported form whose stored parity passes today's
    rule, else Keras itself (also when the exported file is gone and no form was asked for)."""
    manifest = read_manifest(serving_dir) or {}
    forms = manifest.get("forms") or {}
    chosen = form or _passing_form(manifest) or "keras"
    parity = (forms.get(chosen) or {}).get("parity")
    if chosen != "keras":
        try:
            runtime = open_runtime(chosen, serving_dir, threads)
            return _Served(chosen, runtime, serving_dir / FORM_FILES[chosen], parity)
        except NotFoundError:
            if form is not None:  # a form asked for by name must exist
                raise
    from slm_core.models.registry import load_model

    model_file = model_dir / files.get("model", "model.keras")
    reference = manifest.get("reference_parity") if manifest.get("served") == "keras" else None
    return _Served("keras", KerasRuntime(load_model(model_dir)), model_file, reference)


def _passing_form(manifest: dict[str, Any]) -> str | None:
    """The manifest's served form if its parity passes today's rule; else the fastest stored
    form that does (a manifest written under the old accuracy-only rule is judged again)."""
    from slm_core.runtime.parity import stored_parity_passes

    forms = manifest.get("forms") or {}
    served = manifest.get("served")
    if served in forms and stored_parity_passes(forms[served].get("parity")):
        return str(served)
    passing = [
        (float(f.get("p50_ms")), name)
        for name, f in forms.items()
        if not f.get("error")
        and f.get("p50_ms") is not None
        and stored_parity_passes(f.get("parity"))
    ]
    return min(passing)[1] if passing else None


def _linear_predictor(
    model_dir: Path,
    meta: dict,
    serving_dir: Path,
    threads: int,
    form: str | None,
    meta_file: Path,
) -> Predictor:
    """A linear model served by its compiled NumPy form, or by scikit-learn (the reference)."""
    files = dict(meta.get("files") or {})
    model_file = model_dir / files.get("model", "model.joblib")
    chosen, parity = _linear_choice(model_dir, meta, serving_dir, form)
    common = dict(model_id=str(meta["model_id"]), family="linear", threads=threads)
    if chosen == "numpy":
        compiled, form_file = _load_linear_form(model_dir, files, serving_dir, model_file)
        return Predictor(
            **common,
            form="numpy",
            classes=compiled.classes_,
            vectorize=compiled.vectorize,
            infer=compiled.probabilities,
            parity=parity,
            files=(form_file, meta_file),
        )
    from slm_core.models.registry import load_model

    model = load_model(model_dir)

    def infer(features) -> np.ndarray:
        return model.estimator_.predict_proba(features)

    return Predictor(
        **common,
        form="sklearn",
        classes=model.classes_,
        vectorize=model.vectorizer_.transform,
        infer=infer,
        parity=parity,
        files=(model_file, meta_file),
    )


def _linear_choice(
    model_dir: Path, meta: dict, serving_dir: Path, form: str | None
) -> tuple[str, dict[str, Any] | None]:
    """(form, its parity): the test-split check of a current manifest first, then the
    validation check made when the model was saved. A model saved before the compiled form
    existed has neither and serves compiled (from its pickle) until it is measured."""
    manifest = read_manifest(serving_dir)
    if manifest_is_current(manifest, model_dir):
        reference = manifest.get("reference_parity")
        stored = (manifest.get("forms") or {}).get("numpy") or {}
        chosen = form or str(manifest.get("served") or "numpy")
        return chosen, stored.get("parity") if chosen == "numpy" else reference
    served = meta.get("served") or {}
    chosen = form or str(served.get("form") or "numpy")
    return chosen, served.get("parity") if chosen == "numpy" else None


def _load_linear_form(model_dir: Path, files: dict, serving_dir: Path, model_file: Path):
    """The compiled form saved beside the model, or exported to the serving folder, or (a
    model saved before it existed) compiled now from the pickle: (form, file it came from)."""
    from slm_core.runtime.linear_form import FORM_FILE, LinearForm, compile_linear

    for path in (model_dir / files.get("served_form", FORM_FILE), serving_dir / FORM_FILE):
        if path.is_file():
            return LinearForm.load(path), path
    from slm_core.models.registry import load_model

    return compile_linear(load_model(model_dir)), model_file
