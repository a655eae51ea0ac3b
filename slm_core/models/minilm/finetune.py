"""``minilm_finetune``: the MiniLM encoder's top layers trained end to end with the head.

The encoder is a fresh copy of the package's weights (never the process-wide one
``minilm_head`` shares), with its top ``unfrozen_layers`` layers trainable at a lower learning
rate (``encoder_learning_rate``, Adam) than the head's (``learning_rate``); the lower layers and
the embeddings stay as trained by others. Each step runs the whole encoder, so this is the
expensive model of the zoo: minutes to hours on a CPU, which is why it is offered only when a
GPU is visible or after the user accepts the CPU time :func:`estimate` measures on this
machine (one real training step, timed, times the steps training will take).

Texts are cut at ``max_tokens`` word pieces (the tokenizer's own truncation, so [SEP] stays),
in training, prediction and serving alike. The saved model holds the head (``model.keras``)
and the fine-tuned layers (``encoder_layers.safetensors``, safetensors: no pickle); the rest
of the encoder is the installed package's, checked by its weights' SHA-256 at load.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from slm_core.errors import TrainError
from slm_core.models.base import TrainCallbacks, check_training_input, check_validation_labels
from slm_core.models.minilm.encoder import EMBED_BATCH, pad_batch
from slm_core.models.minilm.files import encoder_files
from slm_core.models.minilm.head import MiniLMHeadClassifier
from slm_core.models.minilm.language import script_warning

LAYERS_FILE = "encoder_layers.safetensors"
# Steps timed by the estimate, after one untimed step that traces the graph.
TIMED_STEPS = 2


# Device files a GPU driver creates (NVIDIA, AMD ROCm): without one TensorFlow sees no GPU.
_GPU_DEVICES = ("/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


@cache
def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU on this machine (fine-tuning is then offered freely).

    Asked of TensorFlow only where a GPU driver's device exists: elsewhere the answer is no
    without the seconds (and the log lines) importing it costs the page and the CLI.
    """
    if not any(os.path.exists(path) for path in _GPU_DEVICES):
        return False
    from slm_core.models.keras_runtime import keras_modules

    tf, _ = keras_modules()
    return bool(tf.config.list_physical_devices("GPU"))


class MiniLMFinetuneClassifier(MiniLMHeadClassifier):
    """all-MiniLM-L6-v2 with its top ``unfrozen_layers`` layers fine-tuned, then a dense head."""

    def __init__(
        self,
        model_id: str = "minilm_finetune",
        *,
        epochs: int = 3,
        batch_size: int = 16,
        units: int = 256,
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        encoder_learning_rate: float = 3e-5,
        unfrozen_layers: int = 2,
        max_tokens: int = 128,
        patience: int = 1,
        class_weight: bool = False,
        token_unit: str = "word",
        seed: int = 42,
    ):
        self.model_id = model_id
        self.epochs = epochs
        self.batch_size = batch_size
        self.units = units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.encoder_learning_rate = encoder_learning_rate
        self.unfrozen_layers = unfrozen_layers
        self.max_tokens = max_tokens
        self.patience = patience
        self.class_weight = class_weight
        self.token_unit = token_unit
        self.seed = seed

    _PARAMS = tuple(inspect.signature(__init__).parameters)[1:]

    # -- the encoder this model owns -----------------------------------------------------

    def use_embedding_cache(self, home: Path, dataset_id: str) -> MiniLMFinetuneClassifier:
        """No cache: the vectors change as the encoder learns."""
        return self

    def _tokenizer(self):
        if getattr(self, "_tok", None) is None:
            from slm_core.models.minilm.encoder import _tokenizer

            self._tok = _tokenizer(encoder_files())
            self._tok.enable_truncation(max_length=int(self.max_tokens))
        return self._tok

    def _new_encoder(self):
        """The package's encoder, freshly loaded, its top layers trainable."""
        from safetensors.numpy import load_file

        from slm_core.models.minilm.layers import build_encoder, load_weights

        files = encoder_files()
        n_layers = int(files.config["num_hidden_layers"])
        if not 1 <= int(self.unfrozen_layers) <= n_layers:
            raise TrainError(
                "errors.minilm.unfrozen_layers", layers=self.unfrozen_layers, most=n_layers
            )
        encoder = build_encoder(files.config, name="minilm_tuned")
        load_weights(encoder, load_file(str(files.weights)), n_layers)
        for layer in encoder.layers:
            layer.trainable = layer.name in self._tuned_names(n_layers)
        return encoder

    def _tuned_names(self, n_layers: int) -> list[str]:
        return [f"layer{i}" for i in range(n_layers - int(self.unfrozen_layers), n_layers)]

    def _ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        encodings = self._tokenizer().encode_batch([str(t) for t in texts])
        return [np.asarray(e.ids, dtype=np.int32) for e in encodings]

    def _embed(
        self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        from slm_core.models.minilm.encoder import MiniLMEncoder

        self._check_fitted()
        if getattr(self, "_runner", None) is None:
            runner = MiniLMEncoder()
            runner.tokenizer = self._tokenizer()
            runner._model = self.encoder_
            self._runner = runner
        self.embedded_texts_ = getattr(self, "embedded_texts_", 0) + len(texts)
        return self._runner.embed(list(texts), progress=progress)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        out = np.zeros((len(texts), int(self.max_len_)), dtype=np.int32)
        for i, row in enumerate(self._ids(texts)):
            out[i, : len(row)] = row[: out.shape[1]]
        return out

    @property
    def model_(self):
        self._check_fitted()
        if getattr(self, "_model", None) is None:
            from slm_core.models.minilm.layers import with_head

            self._model = with_head(self.encoder_, self.head_, self.model_id)
        return self._model

    @property
    def encoder_params_(self) -> int:
        self._check_fitted()
        return int(self.encoder_.count_params())

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_") or not hasattr(self, "encoder_"):
            raise TrainError("errors.neural.not_trained", arch=self.model_id)

    # -- training ------------------------------------------------------------------------

    def _trainer(self, n_classes: int):
        """(encoder, head, step, probabilities): ``step(ids, mask, y, w)`` takes one Adam step
        on the tuned layers (encoder rate) and the head (head rate) and returns the loss."""
        from slm_core.models.keras_runtime import keras_modules

        tf, keras = keras_modules()
        keras.utils.set_random_seed(int(self.seed))
        encoder = self._new_encoder()
        head = self._build_head(keras, encoder_files().vector_width(), n_classes)
        enc_vars, head_vars = list(encoder.trainable_variables), list(head.trainable_variables)
        opt_enc = keras.optimizers.Adam(float(self.encoder_learning_rate))
        opt_head = keras.optimizers.Adam(float(self.learning_rate))
        opt_enc.build(enc_vars)
        opt_head.build(head_vars)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        matrix = tf.TensorSpec([None, None], tf.int32)
        spec = [matrix, matrix, tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32)]

        @tf.function(input_signature=spec)
        def step(ids, mask, y, w):
            with tf.GradientTape() as tape:
                probs = head(encoder([ids, mask], training=True), training=True)
                loss = loss_fn(y, probs, sample_weight=w)
            grads = tape.gradient(loss, enc_vars + head_vars)
            opt_enc.apply_gradients(zip(grads[: len(enc_vars)], enc_vars, strict=True))
            opt_head.apply_gradients(zip(grads[len(enc_vars) :], head_vars, strict=True))
            return loss

        @tf.function(input_signature=[matrix, matrix])
        def probabilities(ids, mask):
            return head(encoder([ids, mask], training=False), training=False)

        return encoder, head, step, probabilities

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[str] | None = None,
        callbacks: TrainCallbacks | None = None,
    ) -> MiniLMFinetuneClassifier:
        """Fine-tune the top layers and train the head; early stopping on the validation loss
        (the best epoch's weights are kept)."""
        hooks = callbacks or TrainCallbacks()
        texts, labels = check_training_input(texts, labels)
        self.classes_ = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes_)}
        val_texts = list(val_texts) if val_texts is not None and val_labels is not None else []
        val_labels = [str(v) for v in val_labels] if val_texts else []
        check_validation_labels(val_labels, index)
        self.script_warning_ = script_warning(texts)
        hooks.stop_if_asked()
        y = np.array([index[v] for v in labels], dtype=np.int32)
        y_val = np.array([index[v] for v in val_labels], dtype=np.int32)
        weights = np.ones(len(y), dtype=np.float32)
        if self.class_weight:
            freq = np.bincount(y, minlength=len(self.classes_)).astype(np.float64)
            weights = (len(y) / (len(freq) * np.maximum(freq, 1))).astype(np.float32)[y]
        rows, val_rows = self._ids(texts), self._ids(val_texts)
        encoder, head, step, probabilities = self._trainer(len(self.classes_))
        variables = list(encoder.trainable_variables) + list(head.trainable_variables)
        rng = np.random.default_rng(int(self.seed))
        size = int(self.batch_size)
        batches = -(-len(y) // size)
        history: dict[str, list[float]] = {"loss": [], "val_loss": [], "val_accuracy": []}
        best, best_loss, waited = None, math.inf, 0
        for epoch in range(int(self.epochs)):
            order, total = rng.permutation(len(y)), 0.0
            for b in range(batches):
                pick = order[b * size : (b + 1) * size]
                ids, mask = pad_batch([rows[i] for i in pick])
                total += float(step(ids, mask, y[pick], weights[pick])) * len(pick)
                hooks.on_batch(epoch, b, batches)
                hooks.stop_if_asked()
            logs = {"loss": total / len(y)}
            if len(y_val):
                proba = self._predict_rows(probabilities, val_rows)
                picked = np.clip(proba[np.arange(len(y_val)), y_val], 1e-7, 1.0)
                logs["val_loss"] = float(-np.log(picked).mean())
                logs["val_accuracy"] = float((proba.argmax(axis=1) == y_val).mean())
            for key, value in logs.items():
                history[key].append(value)
            hooks.on_epoch(epoch, int(self.epochs), logs)
            monitored = logs.get("val_loss", logs["loss"])
            if monitored < best_loss:
                best_loss, waited = monitored, 0
                best = [v.numpy().copy() for v in variables]
            else:
                waited += 1
                if len(y_val) and waited > int(self.patience):
                    break
        if best is not None:
            for variable, value in zip(variables, best, strict=True):
                variable.assign(value)
        self.history_ = {k: v for k, v in history.items() if v}
        self.encoder_ = encoder
        self.head_ = head
        self.max_len_ = int(self.max_tokens)
        self._model = self._infer = self._runner = None
        return self

    def _predict_rows(self, probabilities, rows: list[np.ndarray]) -> np.ndarray:
        from slm_core.models.keras_runtime import batches_by_length

        out = np.zeros((len(rows), len(self.classes_)), dtype=np.float64)
        for pick in batches_by_length([len(r) for r in rows], EMBED_BATCH):
            ids, mask = pad_batch([rows[i] for i in pick])
            out[pick] = np.asarray(probabilities(ids, mask))
        return out

    # -- persistence ---------------------------------------------------------------------

    def _saved_extra(self, directory: Path) -> dict[str, Any]:
        """Write the fine-tuned layers beside the head; what ``model.json`` says of them."""
        from safetensors.numpy import save_file

        n_layers = int(encoder_files().config["num_hidden_layers"])
        tensors = {}
        for name in self._tuned_names(n_layers):
            for j, value in enumerate(self.encoder_.get_layer(name).get_weights()):
                tensors[f"{name}.{j}"] = np.ascontiguousarray(value)
        path = Path(directory) / LAYERS_FILE
        save_file(tensors, str(path))
        return {
            "tuned_layers": self._tuned_names(n_layers),
            "tuned_layers_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "files": {"model": "model.keras", "encoder_layers": LAYERS_FILE},
        }

    def _load_extra(self, directory: Path, meta: dict[str, Any]) -> None:
        """Rebuild the fine-tuned encoder: the package's weights, then the saved layers."""
        from safetensors.numpy import load_file

        path = Path(directory) / LAYERS_FILE
        if hashlib.sha256(path.read_bytes()).hexdigest() != meta.get("tuned_layers_sha256"):
            raise TrainError("errors.minilm.tuned_layers_changed", directory=directory)
        tensors = load_file(str(path))
        encoder = self._new_encoder()
        for name in meta.get("tuned_layers") or []:
            layer = encoder.get_layer(name)
            layer.set_weights([tensors[f"{name}.{j}"] for j in range(len(layer.weights))])
        encoder.trainable = False
        self.encoder_ = encoder


# -------------------------------------------------------------- the CPU-time estimate


@dataclass(frozen=True)
class FinetuneEstimate:
    """How long fine-tuning would take here: one training step measured, times the steps."""

    gpu: bool
    seconds_per_step: float  # measured on this machine, a real batch of the dataset's texts
    steps: int  # epochs x batches (early stopping may end sooner)
    seconds: float  # steps x seconds_per_step, plus the validation passes
    batch_size: int
    kind: str = "measured"

    @property
    def minutes(self) -> int:
        """Whole minutes, rounded up (what the page asks the user to accept)."""
        return max(1, math.ceil(self.seconds / 60))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "minutes": self.minutes}


def estimate(
    texts: Sequence[str],
    labels: Sequence[str],
    params: dict[str, Any],
    n_train: int,
    n_val: int = 0,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> FinetuneEstimate:
    """Time :data:`TIMED_STEPS` real training steps on a batch of ``texts`` (after one that
    traces the graph) and scale to ``n_train`` training and ``n_val`` validation texts."""
    model = MiniLMFinetuneClassifier(**params)
    size = int(model.batch_size)
    sample = [str(t) for t in texts][: max(size, 1)]
    classes = sorted({str(v) for v in labels}) or ["a"]
    y = np.array([i % len(classes) for i in range(len(sample))], dtype=np.int32)
    ids, mask = pad_batch(model._ids(sample or ["a"]))
    _, _, step, probabilities = model._trainer(len(classes))
    w = np.ones(len(y), dtype=np.float32)
    step(ids, mask, y, w)
    started = clock()
    for _ in range(TIMED_STEPS):
        step(ids, mask, y, w)
    per_step = (clock() - started) / TIMED_STEPS
    epochs = int(model.epochs)
    steps = epochs * max(1, -(-int(n_train) // size))
    # A forward pass costs about a third of a training step: the validation texts, each epoch.
    val_seconds = epochs * (-(-int(n_val) // size)) * per_step / 3
    return FinetuneEstimate(gpu_visible(), per_step, steps, steps * per_step + val_seconds, size)


def require_consent(accepted: bool) -> None:
    """Refuse (``TrainError``) to fine-tune on a CPU the user has not accepted the time of."""
    if not accepted and not gpu_visible():
        raise TrainError("errors.minilm.cpu_time_not_accepted")
