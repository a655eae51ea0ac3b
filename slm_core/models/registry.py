"""The model zoo: one entry per model id, with a plain-language card, presets and a builder.

Importing this module is cheap: scikit-learn and TensorFlow are imported only when a model is
built or loaded. Adding a model = one ``ModelSpec`` entry plus its builder in ``_build``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from slm_core.errors import NotFoundError, TrainError
from slm_core.models.base import ModelSpec, TextClassifier

MODEL_IDS: tuple[str, ...] = ("tfidf_lr", "tfidf_svm", "nb", "lstm", "bigru", "cnn", "transformer")
LINEAR_IDS: tuple[str, ...] = ("tfidf_lr", "tfidf_svm", "nb")
NEURAL_IDS: tuple[str, ...] = ("lstm", "bigru", "cnn", "transformer")
PRESETS: tuple[str, ...] = ("quick", "balanced", "thorough")
META_FILE = "model.json"
FORMAT_VERSION = 1
TOKEN_UNITS = ("word", "char")

# -- hyper-parameters ------------------------------------------------------------------------

# name -> (kind, lowest, highest, None allowed)
_RANGES: dict[str, tuple[str, float, float, bool]] = {
    "epochs": ("int", 1, 500, False),
    "batch_size": ("int", 1, 4096, False),
    "batch_tokens": ("int", 16, 1_000_000, True),
    "embedding_dim": ("int", 2, 1024, False),
    "units": ("int", 1, 2048, False),
    "dropout": ("float", 0.0, 0.95, False),
    "learning_rate": ("float", 1e-06, 1.0, False),
    "vocab_size": ("int", 10, 1_000_000, False),
    "max_len": ("int", 2, 10_000, True),
    "max_len_cap": ("int", 4, 10_000, False),
    "class_weight": ("bool", 0, 1, False),
    "patience": ("int", 0, 100, False),
    "kernel_size": ("int", 1, 50, False),
    "heads": ("int", 1, 32, False),
    "blocks": ("int", 1, 6, False),
    "lsa_init": ("bool", 0, 1, True),
    "C": ("float", 1e-06, 1000000.0, False),
    "alpha": ("float", 1e-06, 100.0, False),
    "ngram_max": ("int", 1, 8, True),
    "min_df": ("int", 1, 1_000_000, False),
    "max_features": ("int", 10, 10_000_000, True),
    "sublinear_tf": ("bool", 0, 1, False),
    "max_iter": ("int", 10, 100_000, False),
}

# Shown next to each editable setting, for people who do not train models for a living.
PARAM_HELP: dict[str, str] = {
    "epochs": (
        "Passes over the training data (training stops earlier when the validation loss stops "
        "improving)."
    ),
    "batch_size": "Texts per training step; smaller learns in more, noisier steps.",
    "batch_tokens": (
        "Most words (or characters) per training step: long texts get smaller batches than the "
        "batch size, short ones the full batch; empty = always the batch size."
    ),
    "embedding_dim": "Size of the vector learned for each word or character.",
    "units": (
        "Width of the network (memory cells, filters or feed-forward size); more can learn more "
        "but trains slower."
    ),
    "dropout": (
        "Share of signals randomly dropped while training, against memorising the training set (0"
        " to below 1)."
    ),
    "learning_rate": "Step size of the optimiser (Adam); too high diverges, too low learns slowly.",
    "vocab_size": "Most frequent words (or characters) kept; the rest share one 'unknown' entry.",
    "max_len": "Tokens read per text; empty = derived from the data (95% of training texts fit).",
    "max_len_cap": "Upper limit for the derived text length (long documents are cut here).",
    "class_weight": (
        "Give rare labels more weight so the model does not ignore them (may lower overall "
        "accuracy)."
    ),
    "patience": (
        "Epochs without validation improvement before training stops and the best epoch is kept."
    ),
    "kernel_size": "Words (or characters) each filter looks at at once.",
    "heads": "Attention heads: how many different word relations each layer can look at.",
    "blocks": "Stacked encoder blocks.",
    "lsa_init": (
        "Start the word vectors from which words occur together in your training texts (LSA) "
        "instead of at random; empty = automatic (on for document-length texts, where it lifted "
        "accuracy on small datasets; off for short texts such as tweets)."
    ),
    "C": "Inverse regularisation: higher fits the training data more closely.",
    "alpha": "Smoothing for words seen rarely; higher is more cautious.",
    "ngram_max": (
        "Longest word sequence (or character run for Chinese) used as a feature; empty = 2 words "
        "/ 4 characters."
    ),
    "min_df": "Ignore terms found in fewer texts than this.",
    "max_features": "Keep at most this many terms; empty = all.",
    "sublinear_tf": "Count repeats logarithmically (1 + log count).",
    "max_iter": "Optimiser iterations allowed.",
}

# Linear models train in one pass: a CLI-wide "--epochs" must not fail them.
_IGNORED_BY_LINEAR = frozenset({"epochs"})

_NEURAL_COMMON = dict(class_weight=False, max_len=None, lsa_init=None, batch_tokens=None)


def _neural_presets(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base = {
        "quick": dict(
            epochs=3,
            batch_size=64,
            embedding_dim=64,
            units=32,
            dropout=0.2,
            learning_rate=3e-3,
            vocab_size=10_000,
            max_len_cap=128,
            patience=1,
        ),
        "balanced": dict(
            epochs=20,
            batch_size=32,
            embedding_dim=128,
            units=64,
            dropout=0.3,
            learning_rate=2e-3,
            vocab_size=20_000,
            max_len_cap=512,
            patience=3,
        ),
        "thorough": dict(
            epochs=40,
            batch_size=32,
            embedding_dim=192,
            units=128,
            dropout=0.4,
            learning_rate=1e-3,
            vocab_size=40_000,
            max_len_cap=768,
            patience=4,
        ),
    }
    return {
        name: {**values, **_NEURAL_COMMON, **overrides.get(name, {})}
        for name, values in base.items()
    }


def _linear_presets(key: str, quick: float, balanced: float, thorough: float):
    return {
        "quick": {
            key: quick,
            "ngram_max": 1,
            "min_df": 1,
            "max_features": 50_000,
            "sublinear_tf": True,
            "class_weight": False,
        },
        "balanced": {
            key: balanced,
            "ngram_max": None,
            "min_df": 2,
            "max_features": None,
            "sublinear_tf": True,
            "class_weight": False,
        },
        "thorough": {
            key: thorough,
            "ngram_max": 3,
            "min_df": 1,
            "max_features": None,
            "sublinear_tf": True,
            "class_weight": False,
        },
    }


_SPECS: dict[str, ModelSpec] = {
    "tfidf_lr": ModelSpec(
        id="tfidf_lr",
        name="Word statistics + logistic regression",
        family="linear",
        description=(
            "Counts which words and word pairs appear in each text, weighted by how telling "
            "they are, and learns one weight per word and label. Strengths: trains in seconds, "
            "strong on topics and keywords, every prediction can be explained word by word. "
            "Weaknesses: ignores word order beyond pairs, so sarcasm and negation far apart "
            "are missed."
        ),
        presets=_linear_presets("C", 5.0, 5.0, 10.0),
    ),
    "tfidf_svm": ModelSpec(
        id="tfidf_svm",
        name="Word statistics + linear SVM",
        family="linear",
        description=(
            "The same word and word-pair features as logistic regression, with a support "
            "vector machine that maximises the margin between labels; probabilities come from "
            "a calibration step. Strengths: often the most accurate classic baseline, fast. "
            "Weaknesses: like all word-count models it ignores longer word order; calibration "
            "needs a few examples of every label."
        ),
        presets=_linear_presets("C", 0.5, 0.5, 1.0),
    ),
    "nb": ModelSpec(
        id="nb",
        name="Word statistics + naive Bayes",
        family="linear",
        description=(
            "Complement naive Bayes over word statistics: estimates how typical each word is "
            "of each label. Strengths: the fastest to train, works with very little data and "
            "uneven label sizes. Weaknesses: usually a few points less accurate than the "
            "other baselines; probabilities are over-confident."
        ),
        presets=_linear_presets("alpha", 0.3, 0.3, 0.1),
    ),
    "lstm": ModelSpec(
        id="lstm",
        name="LSTM (recurrent network)",
        family="neural",
        description=(
            "A small neural network that reads the text word by word (characters for Chinese), "
            "keeping a memory of what it has read, and summarises everything it saw. "
            "Strengths: uses word order, so it can catch negation and phrasing. Weaknesses: "
            "slower to train and to run than the word-statistics models, needs a few thousand "
            "examples to beat them."
        ),
        # Balanced presets of the four Keras models were tuned together: the smallest
        # embeddings and largest batches that kept each within 2 accuracy points of the best
        # linear model on both demos (default seed) while training >= 5x more texts per second
        # than the seed-style LSTM (bench/results/accuracy.md, train.md).
        presets=_neural_presets(balanced=dict(embedding_dim=64, batch_size=64, learning_rate=3e-3)),
    ),
    "bigru": ModelSpec(
        id="bigru",
        name="Bidirectional GRU (recurrent network)",
        family="neural",
        description=(
            "Like the LSTM but reads each text both forwards and backwards with a lighter "
            "memory cell, so every word is seen with its left and right context. Strengths: "
            "often the most accurate recurrent model on short texts. Weaknesses: about twice "
            "the LSTM's work per text."
        ),
        # Reading both ways doubles the work per token: a shorter cap keeps BBC-length
        # documents near two minutes on two cores.
        presets=_neural_presets(
            balanced=dict(max_len_cap=256, embedding_dim=64, batch_size=128, learning_rate=4e-3),
            thorough=dict(max_len_cap=512),
        ),
    ),
    "cnn": ModelSpec(
        id="cnn",
        name="Convolutional network (CNN)",
        family="neural",
        description=(
            "Slides learned detectors over short windows of words (phrases) and keeps the "
            "strongest signal of each. Strengths: fast to train and to run, good at telling "
            "phrases. Weaknesses: sees only short windows, no long-range word order."
        ),
        presets=_neural_presets(
            quick=dict(units=64, kernel_size=3),
            balanced=dict(units=128, kernel_size=5, batch_size=64, learning_rate=1e-3),
            thorough=dict(units=256, kernel_size=5),
        ),
    ),
    "transformer": ModelSpec(
        id="transformer",
        name="Tiny transformer encoder",
        family="neural",
        description=(
            "A miniature version of the architecture behind large language models: every word "
            "looks at every other word of the text (attention), trained from scratch on your "
            "data only. Strengths: relates distant words, fast on many cores. Weaknesses: "
            "without pre-training it needs more data than the word-statistics models to match "
            "them; cost grows with text length squared."
        ),
        presets=_neural_presets(
            # Attention costs grow with length squared: shorter caps than the other models.
            quick=dict(heads=2, blocks=1),
            # Short texts train in batches of 128 (several times faster per text on CPU),
            # documents in batches of 64 (256 tokens each): on a few thousand documents,
            # larger batches converged measurably worse.
            balanced=dict(
                heads=4,
                blocks=1,
                embedding_dim=96,
                batch_size=128,
                batch_tokens=16_384,
                learning_rate=1.5e-3,
                max_len_cap=256,
            ),
            thorough=dict(heads=4, blocks=2, learning_rate=5e-4, max_len_cap=384),
        ),
    ),
}


def _with_help(spec: ModelSpec) -> ModelSpec:
    keys = sorted({k for preset in spec.presets.values() for k in preset})
    return ModelSpec(
        id=spec.id,
        name=spec.name,
        family=spec.family,
        description=spec.description,
        presets=spec.presets,
        param_help={k: PARAM_HELP[k] for k in keys},
    )


SPECS: dict[str, ModelSpec] = {k: _with_help(v) for k, v in _SPECS.items()}


def get_spec(model_id: str) -> ModelSpec:
    """The registry entry of ``model_id``; ``TrainError`` naming the valid ids otherwise."""
    try:
        return SPECS[model_id]
    except KeyError:
        raise TrainError(
            "errors.registry.unknown_model_choose_one",
            model_id=model_id,
            choices=", ".join(MODEL_IDS),
        ) from None


def _coerce(name: str, value: Any) -> Any:
    """Check one user-edited hyper-parameter and return it with its proper type."""
    kind, low, high, nullable = _RANGES[name]
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "auto")):
        if nullable:
            return None
        raise TrainError("errors.registry.needs_value", name=name)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise TrainError("errors.registry.must_true_false", name=name, value=f"{value!r}")
    if isinstance(value, bool):
        raise TrainError("errors.registry.must_number", name=name, value=f"{value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TrainError("errors.registry.must_number", name=name, value=f"{value!r}") from None
    if not math.isfinite(number):
        raise TrainError("errors.registry.must_finite_number", name=name, value=f"{value!r}")
    if kind == "int":
        if number != int(number):
            raise TrainError("errors.registry.must_whole_number", name=name, value=f"{value!r}")
        number = int(number)
    if not low <= number <= high:
        if name == "dropout":
            raise TrainError("errors.registry.dropout_must_at_least", value=f"{value!r}")
        raise TrainError(
            "errors.registry.must_between",
            name=name,
            low=f"{low:g}",
            high=f"{high:g}",
            value=f"{value!r}",
        )
    return number


def resolve_params(
    model_id: str, preset: str = "balanced", overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The full effective hyper-parameters: the preset's values with validated overrides."""
    spec = get_spec(model_id)
    if preset not in spec.presets:
        raise TrainError(
            "errors.registry.unknown_preset_choose_one", preset=preset, choices=", ".join(PRESETS)
        )
    params = dict(spec.presets[preset])
    for name, value in (overrides or {}).items():
        if name in _IGNORED_BY_LINEAR and spec.family == "linear":
            continue
        if name not in params:
            raise TrainError(
                "errors.registry.setting_model_settings_are",
                name=name,
                model_id=model_id,
                settings=", ".join(sorted(params)),
            )
        params[name] = _coerce(name, value)
    if params.get("max_len") is not None and params["max_len"] > params.get("max_len_cap", 1e9):
        params["max_len_cap"] = params["max_len"]
    if "heads" in params and params["heads"] > params["embedding_dim"]:
        raise TrainError("errors.registry.heads_cannot_exceed_embedding")
    return params


def build(
    model_id: str,
    preset: str = "balanced",
    overrides: dict[str, Any] | None = None,
    token_unit: str = "word",
    seed: int = 42,
) -> TextClassifier:
    """An untrained classifier for ``model_id`` with the preset's (and overridden) settings."""
    params = resolve_params(model_id, preset, overrides)
    if token_unit not in TOKEN_UNITS:
        raise TrainError(
            "errors.registry.token_unit_must_one",
            choices=", ".join(TOKEN_UNITS),
            token_unit=token_unit,
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TrainError("errors.registry.seed_must_whole_number", seed=f"{seed!r}")
    if model_id in LINEAR_IDS:
        from slm_core.models.linear import LINEAR_CLASSES

        return LINEAR_CLASSES[model_id](**params, token_unit=token_unit, seed=seed)
    from slm_core.models.neural import KerasTextClassifier

    return KerasTextClassifier(arch=model_id, **params, token_unit=token_unit, seed=seed)


# -- saved models --------------------------------------------------------------------------


def write_meta(
    directory: Path,
    *,
    model_id: str,
    family: str,
    params: dict[str, Any],
    classes: list[str],
    token_unit: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model.json``: what :func:`load_model` needs to rebuild a saved model."""
    meta = {
        "format_version": FORMAT_VERSION,
        "model_id": model_id,
        "family": family,
        "params": params,
        "classes": list(classes),
        "token_unit": token_unit,
        **(extra or {}),
    }
    text = json.dumps(meta, ensure_ascii=False, indent=2)
    (Path(directory) / META_FILE).write_text(text, encoding="utf-8")


def read_meta(directory: Path) -> dict[str, Any]:
    """The ``model.json`` of a saved model."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise NotFoundError(
            "errors.registry.no_saved_model_found", directory=directory, meta_file=META_FILE
        )
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise TrainError(
            "errors.registry.model_was_saved_format",
            directory=directory,
            found=meta.get("format_version"),
            expected=FORMAT_VERSION,
        )
    return meta


def load_model(directory: Path) -> TextClassifier:
    """Load a model that ``save()`` wrote, dispatching on ``model.json``."""
    meta = read_meta(directory)
    model_id = meta.get("model_id")
    if model_id in LINEAR_IDS:
        from slm_core.models import linear

        return linear.load(Path(directory), meta)
    if model_id in NEURAL_IDS:
        from slm_core.models import neural

        return neural.load(Path(directory), meta)
    raise TrainError("errors.registry.model_unknown_id", directory=directory, model_id=model_id)
