"""Model names and descriptions in the interface language (catalogue first, registry fallback)."""

from __future__ import annotations

from typing import Any

from slm_core.i18n import catalogue


def _localized(model_id: str, field: str, lang: str) -> str | None:
    key = f"model_card.model.{model_id}.{field}"
    return catalogue(lang).get(key) if lang != "en" else None


def model_name(model_id: str, lang: str = "en") -> str:
    """The model's plain-language name in ``lang`` (the registry's English name by default)."""
    from slm_core.models.registry import SPECS

    spec = SPECS.get(model_id)
    return _localized(model_id, "name", lang) or (spec.name if spec else model_id)


def model_description(model_id: str, lang: str = "en") -> str:
    """The model's plain-language description in ``lang``."""
    from slm_core.models.registry import SPECS

    spec = SPECS.get(model_id)
    return _localized(model_id, "description", lang) or (spec.description if spec else "")


def param_label(name: str, lang: str = "en") -> str:
    """A hyper-parameter's readable label in ``lang`` (its setting id when none is written)."""
    return catalogue(lang).get(f"param.{name}.label") or name


def param_help(name: str, lang: str = "en") -> str | None:
    """What a hyper-parameter does, in ``lang``; English from the registry as the fallback."""
    from slm_core.models.params import PARAM_HELP

    return catalogue(lang).get(f"param.{name}.help") or PARAM_HELP.get(name)


def training_mode_text(mode: dict[str, Any], lang: str = "en") -> str:
    """How a run was trained and why, in one sentence (a run's ``training_mode``): a linear
    model in memory or out of core, a Keras model (``family`` "neural") in memory or streamed
    from Parquet shards."""
    from slm_core.errors import render
    from slm_core.i18n import format_number

    values = {
        "rows": format_number(int(mode.get("rows") or 0), lang),
        "threshold": str(int(mode.get("threshold") or 0)),  # as the variable is set
        "chunk": format_number(int(mode.get("chunk") or 0), lang),
    }
    if mode.get("family") == "neural":
        values.update(
            variable=str(mode.get("variable") or "SLM_KERAS_STREAM_ROWS"),
            shards=format_number(int(mode.get("shards") or 0), lang),
        )
        key = "training_streamed" if mode.get("mode") == "streamed" else "training_keras_in_memory"
    elif mode.get("mode") == "out_of_core":
        key = "training_out_of_core"
    else:
        key = "training_in_memory"
    return render(f"stream.{key}", lang, **values)
