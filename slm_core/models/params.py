"""Hyper-parameters every model may expose: their ranges, their help texts, and the check.

The registry's presets say which of these each model has; this module says what a value of
each may be, so a user-edited setting is checked the same way for every model.
"""

from __future__ import annotations

import math
from typing import Any

from slm_core.errors import TrainError

# name -> (kind, lowest, highest, None allowed)
RANGES: dict[str, tuple[str, float, float, bool]] = {
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
    "encoder_learning_rate": ("float", 1e-07, 0.01, False),
    "unfrozen_layers": ("int", 1, 6, False),
    "max_tokens": ("int", 8, 256, False),
    "pooled_layers": ("int", 1, 6, False),
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
    "encoder_learning_rate": (
        "Step size for the pretrained layers being fine-tuned; far below the head's, so what "
        "they learned from a billion sentences is adjusted, not overwritten."
    ),
    "unfrozen_layers": (
        "Top layers of the pretrained encoder trained on your data (of 6); more can fit your "
        "task better but each adds training time."
    ),
    "max_tokens": (
        "Word pieces read per text (at most 256); fewer trains faster, longer texts are cut."
    ),
    "pooled_layers": (
        "How many of the encoder's top layers (of 6) the small network reads, each averaged "
        "over the text: 1 is the sentence vector alone; lower layers keep more of the words "
        "themselves."
    ),
}


def coerce(name: str, value: Any) -> Any:
    """Check one user-edited hyper-parameter and return it with its proper type."""
    kind, low, high, nullable = RANGES[name]
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "auto")):
        if nullable:
            return None
        raise TrainError("errors.params.needs_value", name=name)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise TrainError("errors.params.not_true_or_false", name=name, value=f"{value!r}")
    if isinstance(value, bool):
        raise TrainError("errors.params.not_a_number", name=name, value=f"{value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TrainError("errors.params.not_a_number", name=name, value=f"{value!r}") from None
    if not math.isfinite(number):
        raise TrainError("errors.params.not_finite", name=name, value=f"{value!r}")
    if kind == "int":
        if number != int(number):
            raise TrainError("errors.params.not_whole", name=name, value=f"{value!r}")
        number = int(number)
    if not low <= number <= high:
        if name == "dropout":
            raise TrainError("errors.params.dropout_out_of_range", value=f"{value!r}")
        raise TrainError(
            "errors.params.out_of_range",
            name=name,
            low=f"{low:g}",
            high=f"{high:g}",
            value=f"{value!r}",
        )
    return number
