"""``minilm_head``: the frozen MiniLM encoder, then a small dense network trained on its vectors.

The family ``pretrained`` (``registry.family_module``): ``build`` and ``load`` as every family.
Training embeds the training and validation texts once (through the dataset's embedding cache
when the trainer attached one, :meth:`MiniLMHeadClassifier.use_embedding_cache`), reporting
``on_stage("embedding", done, total)`` in encoder batches, then fits the head in seconds with
early stopping on the validation loss, like the Keras models. The saved model is the head
(``model.keras``) and ``model.json`` naming the encoder (package, version, SHA-256 of its
weights), never a copy of the 90 MB weights: loading checks that the installed encoder is that
one.

For serving and export it looks like a Keras text classifier: ``encode`` gives word-piece ids
``(n, max_len_)``, ``model_`` is encoder + head over those ids, ``predict_proba_ids`` runs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from slm_core.errors import TrainError
from slm_core.models.base import TrainCallbacks, check_training_input, check_validation_labels
from slm_core.models.keras_runtime import PREDICT_BATCH
from slm_core.models.minilm.cache import EmbeddingCache
from slm_core.models.minilm.encoder import EMBED_BATCH
from slm_core.models.minilm.files import encoder_files
from slm_core.models.minilm.language import script_warning
from slm_core.models.saved import write_meta

MODEL_FILE = "model.keras"


def build(
    model_id: str, params: dict[str, Any], *, token_unit: str, seed: int
) -> MiniLMHeadClassifier:
    """An untrained ``model_id`` with ``params`` (the registry has checked them)."""
    classes = pretrained_models()
    if model_id not in classes:
        raise TrainError("errors.neural.unknown_architecture", arch=model_id)
    return classes[model_id](model_id, **params, token_unit=token_unit, seed=seed)


def _shared_encoder():
    from slm_core.models.minilm.encoder import shared_encoder

    return shared_encoder()


class MiniLMHeadClassifier:
    """Frozen all-MiniLM-L6-v2 sentence vectors -> dense layer -> softmax.

    ``pooled_layers``: the head reads the mean-pooled vectors of the encoder's top this many
    layers side by side (1: the sentence-transformers vector alone; the presets set more). It
    defaults to 1 here because a model saved before the setting existed was trained on that.
    ``token_unit`` is stored for the contract only: the encoder has its own word pieces.
    """

    def __init__(
        self,
        model_id: str = "minilm_head",
        *,
        epochs: int = 100,
        batch_size: int = 32,
        units: int = 256,
        dropout: float = 0.2,
        learning_rate: float = 1e-3,
        patience: int = 8,
        class_weight: bool = False,
        pooled_layers: int = 1,
        token_unit: str = "word",
        seed: int = 42,
    ):
        self.model_id = model_id
        self.epochs = epochs
        self.batch_size = batch_size
        self.units = units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.patience = patience
        self.class_weight = class_weight
        self.pooled_layers = pooled_layers
        self.token_unit = token_unit
        self.seed = seed

    _PARAMS = tuple(inspect.signature(__init__).parameters)[1:]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    # -- embeddings ----------------------------------------------------------------------

    def use_embedding_cache(self, home: Path, dataset_id: str) -> MiniLMHeadClassifier:
        """Read and keep the vectors of this dataset's texts in the store (the trainer calls
        this; a loaded model has no cache and always runs the encoder)."""
        files = encoder_files()
        layers = int(self.pooled_layers)
        # One file per pooling: the single-layer file keeps the name it always had.
        key = files.encoder_id if layers == 1 else f"{files.encoder_id}-top{layers}"
        self.cache_ = EmbeddingCache(home, dataset_id, key, files.vector_width(layers))
        return self

    def _embed(
        self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        encoder = _shared_encoder()

        def compute(missing: list[str], report) -> np.ndarray:
            self.embedded_texts_ = getattr(self, "embedded_texts_", 0) + len(missing)
            return encoder.embed(
                missing,
                batch_size=EMBED_BATCH,
                progress=report,
                pooled_layers=int(self.pooled_layers),
            )

        cache = getattr(self, "cache_", None)
        if cache is not None:
            return cache.embed(list(texts), compute, progress)
        return compute(list(texts), progress)

    # -- training ------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[str] | None = None,
        callbacks: TrainCallbacks | None = None,
    ) -> MiniLMHeadClassifier:
        """Embed ``texts`` (and the validation texts), then train the head on the vectors."""
        hooks = callbacks or TrainCallbacks()
        texts, labels = check_training_input(texts, labels)
        self.classes_ = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes_)}
        val_texts = list(val_texts) if val_texts is not None and val_labels is not None else []
        val_labels = [str(v) for v in val_labels] if val_texts else []
        check_validation_labels(val_labels, index)
        self.script_warning_ = script_warning(texts)
        hooks.stop_if_asked()

        def progress(done: int, total: int) -> None:
            # In the encoder's batches, as the Train page reads it ("batch 3/14").
            hooks.on_stage("embedding", -(-done // EMBED_BATCH), -(-total // EMBED_BATCH))
            hooks.stop_if_asked()

        vectors = self._embed(texts + val_texts, progress)
        x, x_val = vectors[: len(texts)], vectors[len(texts) :]
        y = np.array([index[v] for v in labels], dtype=np.int32)
        y_val = np.array([index[v] for v in val_labels], dtype=np.int32)
        self.history_ = self._train_head(x, y, x_val, y_val, hooks)
        self.max_len_ = encoder_files().max_tokens
        self._model = self._infer = None
        return self

    def _train_head(self, x, y, x_val, y_val, hooks: TrainCallbacks) -> dict[str, list[float]]:
        from slm_core.models.keras_blocks import ProgressCallback
        from slm_core.models.keras_runtime import keras_modules

        _, keras = keras_modules()
        keras.utils.set_random_seed(int(self.seed))
        weights = None
        if self.class_weight:
            freq = np.bincount(y, minlength=len(self.classes_)).astype(np.float64)
            per_label = (len(y) / (len(freq) * np.maximum(freq, 1))).astype(np.float32)
            weights = per_label[y]
        head = self._build_head(keras, x.shape[1], len(self.classes_))
        head.compile(
            optimizer=keras.optimizers.Adam(float(self.learning_rate)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        batches = -(-len(y) // int(self.batch_size))
        progress = ProgressCallback(hooks, int(self.epochs), batches)
        extra: list = []
        validation = None
        if len(y_val):
            val_w = None if weights is None else per_label[y_val]
            validation = (x_val, y_val) if val_w is None else (x_val, y_val, val_w)
            extra.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=int(self.patience), restore_best_weights=True
                )
            )
        head.fit(
            x,
            y,
            sample_weight=weights,
            batch_size=int(self.batch_size),
            epochs=int(self.epochs),
            validation_data=validation,
            callbacks=[progress, *extra],
            shuffle=True,
            verbose=0,
        )
        # The deployable head: same layers, no optimizer state.
        self.head_ = keras.Model(head.input, head.output, name="head")
        return progress.history

    def _build_head(self, keras, dim: int, n_classes: int):
        vectors = keras.Input(shape=(dim,), dtype="float32", name="vectors")
        x = keras.layers.Dense(int(self.units), activation="relu", name="hidden")(vectors)
        x = keras.layers.Dropout(float(self.dropout))(x)
        out = keras.layers.Dense(n_classes, activation="softmax", name="probs")(x)
        return keras.Model(vectors, out, name="head")

    @property
    def n_params_(self) -> int:
        """Parameters used per prediction: the encoder's and the head's."""
        self._check_fitted()
        return int(self.head_.count_params()) + int(self.encoder_params_)

    @property
    def encoder_params_(self) -> int:
        return int(_shared_encoder().keras_model().count_params())  # every pooling shares it

    # -- inference -----------------------------------------------------------------------

    def predict_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities for sentence vectors ``(n, 384 * pooled_layers)``."""
        self._check_fitted()
        out = np.zeros((len(vectors), len(self.classes_)), dtype=np.float64)
        for start in range(0, len(vectors), PREDICT_BATCH):
            chunk = np.asarray(vectors[start : start + PREDICT_BATCH], dtype=np.float32)
            out[start : start + len(chunk)] = np.asarray(self.head_(chunk, training=False))
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            self._check_fitted()
            return np.zeros((0, len(self.classes_)))
        return self.predict_vectors(self._embed(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    # -- the Keras-model view (serving, export) ------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Word-piece ids ``(n, max_len_)`` int32, 0-padded (what serving runtimes take)."""
        self._check_fitted()
        ids, _ = _shared_encoder().tokenize(list(texts))
        out = np.zeros((len(ids), int(self.max_len_)), dtype=np.int32)
        for i, row in enumerate(ids):
            out[i, : len(row)] = row[: out.shape[1]]
        return out

    @property
    def model_(self):
        """Encoder + head over word-piece ids, built on first use."""
        self._check_fitted()
        if getattr(self, "_model", None) is None:
            from slm_core.models.minilm.layers import with_head

            encoder = _shared_encoder().keras_model(int(self.pooled_layers))
            self._model = with_head(encoder, self.head_, self.model_id)
        return self._model

    def predict_proba_ids(self, ids: np.ndarray) -> np.ndarray:
        """Class probabilities for ``encode``'s ids, in batches of similar length."""
        from slm_core.models.keras_runtime import predict_by_length

        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int32)
        return predict_by_length(self._predict_fn(), ids, len(self.classes_), 64)

    def _predict_fn(self):
        if getattr(self, "_infer", None) is None:
            from slm_core.models.keras_runtime import traced_inference

            self._infer = traced_inference(self.model_)
        return self._infer

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_"):
            raise TrainError("errors.neural.not_trained", arch=self.model_id)

    # -- persistence ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the head (``model.keras``, no optimizer) and ``model.json`` naming the encoder."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.head_.save(directory / MODEL_FILE)
        write_meta(
            directory,
            model_id=self.model_id,
            family="pretrained",
            params=self.get_params(),
            classes=self.classes_,
            token_unit=self.token_unit,
            extra={
                "encoder": encoder_files().to_dict(),
                "max_len": int(self.max_len_),
                "n_params": self.n_params_,
                "head_params": int(self.head_.count_params()),
                "script_warning": self.script_warning_,
                "history": self.history_,
                "files": {"model": MODEL_FILE},
                **self._saved_extra(directory),
            },
        )

    def _saved_extra(self, directory: Path) -> dict[str, Any]:
        """Files a subclass writes beside the head, and what ``model.json`` says of them."""
        return {}

    def _load_extra(self, directory: Path, meta: dict[str, Any]) -> None:
        """Read back what :meth:`_saved_extra` wrote (nothing here)."""


def load(directory: Path, meta: dict[str, Any]) -> MiniLMHeadClassifier:
    """Rebuild a saved model: its head from ``model.keras`` (``safe_mode=True``), the encoder
    from the installed package, refused (``TrainError``) when its weights are not the ones
    the head was trained on."""
    from slm_core.models.keras_runtime import keras_modules

    directory = Path(directory)
    saved_encoder = dict(meta.get("encoder") or {})
    installed = encoder_files()
    if saved_encoder.get("weights_sha256") != installed.weights_sha256:
        raise TrainError(
            "errors.minilm.encoder_changed",
            directory=directory,
            saved=saved_encoder.get("encoder_id", "?"),
            installed=installed.encoder_id,
        )
    _, keras = keras_modules()
    params = {**meta["params"], "model_id": meta["model_id"]}
    clf = pretrained_models()[meta["model_id"]](**params)
    clf.head_ = keras.saving.load_model(directory / MODEL_FILE, compile=False, safe_mode=True)
    clf.classes_ = list(meta["classes"])
    clf.max_len_ = int(meta.get("max_len", installed.max_tokens))
    clf.script_warning_ = meta.get("script_warning")
    clf.history_ = {k: list(v) for k, v in meta.get("history", {}).items()}
    clf._load_extra(directory, meta)
    return clf


# The pretrained models by id: a new one is a class (or a subclass with other defaults) here
# and its spec in the registry.
# ``PRETRAINED_MODELS`` is read through the module's ``__getattr__`` below: the fine-tuned model
# subclasses this module's class in its own module, which imports this one.
_CLASSES: dict[str, type[MiniLMHeadClassifier]] = {"minilm_head": MiniLMHeadClassifier}


def pretrained_models() -> dict[str, type[MiniLMHeadClassifier]]:
    """Every pretrained model class by id (``PRETRAINED_MODELS``)."""
    from slm_core.models.minilm.finetune import MiniLMFinetuneClassifier

    return {**_CLASSES, "minilm_finetune": MiniLMFinetuneClassifier}


def __getattr__(name: str) -> Any:
    if name == "PRETRAINED_MODELS":
        return pretrained_models()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def serving_vectorizer(
    meta: dict[str, Any],
) -> tuple[Callable[[list[str]], np.ndarray], Path, Path]:
    """What serving puts in front of a runtime: texts -> word-piece ids ``(n, max_len)``
    (the tokenizer alone, no TensorFlow); the tokenizer's file; and the encoder's weights,
    which the ``keras`` form reads beside the saved head (an exported form holds them)."""
    from slm_core.models.minilm.encoder import _tokenizer

    files = encoder_files()
    tokenizer = _tokenizer(files)
    width = int(meta.get("max_len", files.max_tokens))
    if width < files.max_tokens:  # a fine-tuned model reads fewer word pieces, [SEP] kept
        tokenizer.enable_truncation(max_length=width)

    def vectorize(texts: list[str]) -> np.ndarray:
        encodings = tokenizer.encode_batch([str(t) for t in texts])
        out = np.zeros((len(encodings), width), dtype=np.int32)
        for i, e in enumerate(encodings):
            row = e.ids[:width]
            out[i, : len(row)] = row
        return out

    return vectorize, files.tokenizer, files.weights
