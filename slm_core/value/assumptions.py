"""Business and social value assumptions: one typed, frozen record with a source for every default.

Every number a value figure depends on lives here, with where it came from (``sources``: field ->
(source, date, note)). Notes mark second-hand sources with "⚠", numbers we made up to be
replaced with "illustrative", and figures nobody measured with "ASSUMPTION". A value the user
edits gets the source "your input". Scenarios load and save as TOML or JSON; presets live in
``data/scenarios/*.toml``.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from slm_core.errors import SlmError
from slm_core.value.sources import DEFAULT_SOURCES, FIELD_UNITS, GRID_INTENSITY, Source

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "data" / "scenarios"
PRESET_IDS: tuple[str, ...] = (
    "customer_service_triage",
    "content_moderation",
    "document_routing",
    "sentiment_monitoring",
    "china_customer_service",
)
DEFAULT_PRESET = "customer_service_triage"
USER_SOURCE = "your input"
PAYOFF_MODES = ("simple", "matrix")
# How a small model is served: on the user's device, one or more always-on servers, a
# serverless function per request, or a nightly batch job.
SERVING_MODES = ("device", "always_on", "serverless", "batch")
# ``positive_class`` may name a class or ask for the rarest class of the dataset (harmful posts,
# urgent tickets: the class whose misses usually cost most).
RAREST_CLASS = "@rarest"

BUSINESS_DIMENSIONS: tuple[str, ...] = (
    "net_value",
    "roi",
    "payback",
    "automation",
    "automated_accuracy",
)
SOCIAL_DIMENSIONS: tuple[str, ...] = (
    "privacy",
    "access",
    "environment",
    "fairness",
    "robustness",
    "explainability",
    "transparency",
    "feedback",
)


class AssumptionError(SlmError):
    """A scenario value is out of range or a scenario file cannot be read."""


DEFAULT_BUSINESS_WEIGHTS: dict[str, float] = {
    "net_value": 0.4,
    "roi": 0.2,
    "payback": 0.2,
    "automation": 0.1,
    "automated_accuracy": 0.1,
}
DEFAULT_SOCIAL_WEIGHTS: dict[str, float] = dict.fromkeys(SOCIAL_DIMENSIONS, 1.0)


@dataclass(frozen=True)
class Assumptions:
    """Everything the value figures depend on. Money is in ``currency`` except the prices
    published in US dollars (``USD_FIELDS``), which ``fx_rate`` converts; volumes are per year.
    """

    name: str = "Customer-service triage"
    preset: str = DEFAULT_PRESET
    currency: str = "USD"
    fx_rate: float = 1.0
    # volume and people
    annual_volume: float = 200_000.0
    minutes_per_item: float = 2.0
    hourly_labour_cost: float = 20.59
    human_accuracy: float = 1.0
    value_per_correct: float = 0.0
    # errors: cost of a wrong answer, per (true, predicted) pair
    payoff_mode: str = "simple"
    positive_class: str = ""
    cost_false_positive: float = 5.15
    cost_false_negative: float = 5.15
    cost_other_error: float = 5.15
    payoff_matrix: dict[str, dict[str, float]] = field(default_factory=dict)
    # owning and serving the small model
    setup_cost: float = 5_000.0
    yearly_maintenance: float = 2_000.0
    serving_mode: str = "always_on"
    price_per_vcpu_hour: float = 0.0446
    instance_vcpus: float = 2.0
    min_instances: float = 1.0
    target_utilisation: float = 0.5
    business_hours_per_day: float = 10.0
    business_days_per_year: float = 250.0
    peak_factor: float = 3.0
    serverless_price_per_gb_s: float = 0.0000166667
    serverless_price_per_m_requests: float = 0.20
    serverless_min_memory_mb: float = 128.0
    serverless_cold_start_share: float = 0.01
    batch_runs_per_year: float = 365.0
    batch_min_billed_seconds: float = 60.0
    # the hosted large-model alternative
    llm_name: str = "OpenAI gpt-4o-mini"
    llm_input_price_per_m: float = 0.15
    llm_output_price_per_m: float = 0.60
    llm_output_tokens: float = 5.0
    llm_prompt_tokens: float = 150.0
    llm_accuracy: float = 0.90
    llm_answer_share: float = 1.0
    llm_setup_cost: float = 2_000.0
    tokens_per_char_latin: float = 0.25
    tokens_per_char_cjk: float = 0.6
    llm_wh_per_query: float = 0.24
    llm_latency_ms: float = 1000.0
    # energy and devices
    grid_region: str = "World"
    grid_gco2_per_kwh: float = 471.0
    pue: float = 1.56
    cpu_watts_per_thread: float = 4.0
    ram_watts_per_instance: float = 10.0
    idle_power_share: float = 0.5
    device_disk_budget_mb: float = 15.0
    device_memory_budget_mb: float = 100.0
    latency_budget_ms: float = 100.0
    # how scores are formed and what is measured
    payback_horizon_months: float = 24.0
    interval_level: float = 0.90
    privacy_own_server: float = 50.0
    language_penalty: float = 0.5
    energy_score_decades: float = 2.0
    fairness_gap_zero: float = 0.5
    min_group_size: float = 5.0
    feedback_min_ratings: float = 20.0
    noise_typo_rate: float = 0.05
    noise_case_rate: float = 0.10
    noise_punct_drop_rate: float = 0.50
    noise_extra_space_rate: float = 0.05
    noise_cjk_drop_rate: float = 0.03
    noise_cjk_dup_rate: float = 0.03
    noise_width_swap_rate: float = 0.50
    # scoring
    business_weights: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_BUSINESS_WEIGHTS)
    )
    social_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SOCIAL_WEIGHTS))
    business_share: float = 0.5
    sources: dict[str, Source] = field(default_factory=lambda: dict(DEFAULT_SOURCES))

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in NUMERIC_FIELDS:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise AssumptionError(
                        "errors.assumptions.not_a_number", name=f.name, value=f"{value!r}"
                    )
                if not math.isfinite(value) or value < 0:
                    raise AssumptionError("errors.assumptions.negative", name=f.name, value=value)
        for name in TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise AssumptionError("errors.assumptions.not_text", name=name)
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise AssumptionError(
                    "errors.assumptions.out_of_range",
                    name=name,
                    value=f"{value:g}",
                    low=f"{low:g}",
                    high=f"{high:g}",
                )
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise AssumptionError(
                    "errors.assumptions.must_be_one_of", name=name, choices=", ".join(choices)
                )
        for name, dims in (
            ("business_weights", BUSINESS_DIMENSIONS),
            ("social_weights", SOCIAL_DIMENSIONS),
        ):
            weights = getattr(self, name)
            unknown = set(weights) - set(dims)
            if unknown:
                raise AssumptionError(
                    "errors.assumptions.unknown_keys",
                    name=name,
                    keys=", ".join(sorted(unknown)),
                    choices=", ".join(dims),
                )
            if any(not _nonneg(v) for v in weights.values()):
                raise AssumptionError("errors.assumptions.negative_weight", name=name)
        for true, row in self.payoff_matrix.items():
            if not isinstance(row, dict) or any(not _nonneg(v) for v in row.values()):
                raise AssumptionError("errors.assumptions.bad_payoff_row", true=true)

    def usd(self, amount: float) -> float:
        """A price published in US dollars, in this scenario's currency."""
        return amount * self.fx_rate

    @property
    def labour_per_item(self) -> float:
        """Labour cost of one text handled by a person: minutes ÷ 60 × hourly cost."""
        return self.minutes_per_item / 60.0 * self.hourly_labour_cost

    @property
    def instance_price_per_hour(self) -> float:
        """One server instance, in this scenario's currency: vCPUs × USD per vCPU-hour × fx."""
        return self.usd(self.instance_vcpus * self.price_per_vcpu_hour)

    # ---------------------------------------------------------------- editing

    def edit(self, **changes: Any) -> Assumptions:
        """A copy with ``changes``; each value that changes gets the source 'your input'."""
        sources = dict(self.sources)
        today = date.today().isoformat()
        changes = dict(changes)
        for key in ("business_weights", "social_weights"):
            if key in changes:  # a partial table updates only the weights it names
                changes[key] = {**getattr(self, key), **changes[key]}
        for key, value in changes.items():
            if key not in FIELD_NAMES or key == "sources":
                raise AssumptionError("errors.assumptions.unknown_assumption", key=key)
            old = getattr(self, key)
            if value != old:
                was = self.sources.get(key)
                shown = repr(old) if isinstance(old, str) else old
                note = f"default was {shown}" + (f" ({was.source})" if was else "")
                sources[key] = Source(USER_SOURCE, today, note)
        return replace(self, **changes, sources=sources)

    def source(self, key: str) -> Source:
        """The source of one field ('not stated' when the scenario gave none)."""
        return self.sources.get(key, Source("not stated", "", "no source given for this value"))

    def unit(self, key: str, lang: str = "en") -> str:
        """The unit of a numeric field in this scenario's currency ('' for text fields).

        ``lang`` other than English reads ``field_unit.<key>`` from the catalogue ("条/年").
        """
        unit = FIELD_UNITS.get(key, "")
        if unit and lang != "en":
            from slm_core.i18n import catalogue

            unit = catalogue(lang).get(f"field_unit.{key}", unit)
        return unit.replace("{cur}", self.currency)

    def is_user_value(self, key: str) -> bool:
        return self.source(key).source == USER_SOURCE

    # ----------------------------------------------------------- serialising

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["payoff_matrix"] = {t: dict(row) for t, row in self.payoff_matrix.items()}
        out["sources"] = {k: list(v) for k, v in self.sources.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Assumptions | None = None) -> Assumptions:
        """Read a dict written by ``to_dict`` (or a partial one); missing fields keep ``base``'s."""
        base = base or cls()
        data = {k: v for k, v in data.items() if k not in RETIRED_FIELDS}
        unknown = set(data) - set(FIELD_NAMES)
        if unknown:
            raise AssumptionError(
                "errors.assumptions.scenario_unknown_assumptions", keys=", ".join(sorted(unknown))
            )
        try:
            values = _coerce_values(data, base)
        except (TypeError, ValueError, AttributeError) as exc:
            raise AssumptionError("errors.assumptions.wrong_value_type", exc=exc) from None
        sources = dict(base.sources)
        given = data.get("sources") or {}
        if not isinstance(given, dict):
            raise AssumptionError("errors.assumptions.bad_sources_table")
        given = {k: v for k, v in given.items() if k not in RETIRED_FIELDS}
        for key in values:
            if key not in given and key not in META_FIELDS:
                sources[key] = (
                    base.sources.get(key, Source("scenario file", "", "no source given"))
                    if values[key] == getattr(base, key)
                    else Source("scenario file", "", "no source given for this value")
                )
        for key, src in given.items():
            sources[key] = _read_source(key, src)
        return replace(base, **values, sources=sources)

    def to_toml(self) -> str:
        import tomli_w

        data = self.to_dict()
        data["sources"] = {
            k: {"source": s[0], "date": s[1], "note": s[2]} for k, s in data["sources"].items()
        }
        return tomli_w.dumps(data)

    @classmethod
    def from_toml(cls, text: str, base: Assumptions | None = None) -> Assumptions:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AssumptionError("errors.assumptions.invalid_toml", exc=exc) from None
        return cls.from_dict(data, base)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str, base: Assumptions | None = None) -> Assumptions:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AssumptionError("errors.assumptions.invalid_json", exc=exc) from None
        if not isinstance(data, dict):
            raise AssumptionError("errors.assumptions.json_not_an_object")
        return cls.from_dict(data, base)


def _coerce_values(data: dict[str, Any], base: Assumptions) -> dict[str, Any]:
    """Scenario values converted to the types of ``base``'s fields (ints to floats, ...)."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "sources":
            continue
        default = getattr(base, key)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(default, dict) and not isinstance(value, dict):
            raise TypeError(f"'{key}' must be a table of names to numbers")
        elif key in TEXT_FIELDS:
            value = str(value)
        values[key] = value
    if "payoff_matrix" in values:
        values["payoff_matrix"] = {
            str(t): {str(p): float(c) for p, c in row.items()}
            for t, row in values["payoff_matrix"].items()
        }
    for key in ("business_weights", "social_weights"):
        if key in values:
            values[key] = {**getattr(base, key), **{k: float(v) for k, v in values[key].items()}}
    return values


def _nonneg(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _read_source(key: str, src: Any) -> Source:
    if isinstance(src, dict):
        return Source(
            str(src.get("source", "")), str(src.get("date", "")), str(src.get("note", ""))
        )
    if isinstance(src, (list, tuple)) and 1 <= len(src) <= 3:
        return Source(*(str(s) for s in src))
    raise AssumptionError("errors.assumptions.bad_source", key=key)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Assumptions))
# A scenario's own name needs no source.
META_FIELDS = ("name", "preset")
TEXT_FIELDS = (
    "name",
    "preset",
    "currency",
    "payoff_mode",
    "positive_class",
    "serving_mode",
    "llm_name",
    "grid_region",
)
NUMERIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Assumptions) if f.type == "float")
_SHARES = (
    "human_accuracy",
    "llm_accuracy",
    "llm_answer_share",
    "business_share",
    "serverless_cold_start_share",
    "idle_power_share",
    "language_penalty",
    "fairness_gap_zero",
    *(f.name for f in fields(Assumptions) if f.name.startswith("noise_")),
)
# Inclusive bounds of the numbers that have them (besides being zero or more).
RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(_SHARES, (0.0, 1.0)),
    "fairness_gap_zero": (0.01, 1.0),
    "target_utilisation": (0.01, 1.0),
    "interval_level": (0.5, 0.999),
    "pue": (1.0, math.inf),
    "fx_rate": (1e-9, math.inf),
    "instance_vcpus": (1.0, math.inf),
    "peak_factor": (1.0, math.inf),
    "business_hours_per_day": (0.1, 24.0),
    "business_days_per_year": (1.0, 366.0),
    "batch_runs_per_year": (1.0, math.inf),
    "privacy_own_server": (0.0, 100.0),
    "energy_score_decades": (0.1, math.inf),
    "payback_horizon_months": (0.1, math.inf),
}
CHOICES: dict[str, tuple[str, ...]] = {"payoff_mode": PAYOFF_MODES, "serving_mode": SERVING_MODES}


def source_kind(src: Source) -> str:
    """'user', 'assumption', 'illustrative', 'second_hand', 'derived', 'default' or 'sourced'."""
    text = f"{src.source} {src.note}".lower()
    if src.source == USER_SOURCE:
        return "user"
    if "assumption" in text:
        return "assumption"
    if src.source in ("illustrative",) or "illustrative" in src.note.lower():
        return "illustrative"
    if "⚠" in text:
        return "second_hand"
    if src.source in ("derived", "default", "not stated", "scenario file"):
        return src.source.replace(" ", "_")
    return "sourced"


# Assumptions that earlier versions wrote and nothing reads any more: scenarios saved with them
# still load. ``explain_top_k`` went with the ERASER faithfulness measure (issue 12), which
# removes 1-50% of the tokens a model reads instead of a fixed number.
RETIRED_FIELDS = frozenset({"explain_top_k"})


def unused_fields(
    a: Assumptions, classes: Sequence[str] | None = None, prior: Sequence[float] | None = None
) -> tuple[str, ...]:
    """Error-cost fields no figure reads under this scenario (and, given them, these classes).

    Without a positive class (or one absent from ``classes``) every error costs
    ``cost_other_error``, so the false-positive and false-negative costs are unused; with two
    classes and a positive one, every error is one of those two, so ``cost_other_error`` is.
    In matrix mode, pairs in the matrix override these costs, but the others still apply.
    """
    from slm_core.value.payoff import positive_class

    if not a.positive_class:
        return ("cost_false_positive", "cost_false_negative")
    if classes is None:
        return ()
    if positive_class(a, classes, prior) is None:
        return ("cost_false_positive", "cost_false_negative")
    return ("cost_other_error",) if len(classes) == 2 else ()


def with_grid_region(a: Assumptions) -> Assumptions:
    """Credit Ember/OWID as the source when the grid intensity is that of the chosen region."""
    region = a.grid_region
    if GRID_INTENSITY.get(region) != a.grid_gco2_per_kwh or region == "World":
        return a
    sources = dict(a.sources)
    sources["grid_gco2_per_kwh"] = Source(
        f"Ember / Our World in Data, {region} {a.grid_gco2_per_kwh:g} gCO2e/kWh", "2024", ""
    )
    sources["grid_region"] = Source("Ember / Our World in Data", "2024", "")
    return replace(a, sources=sources)


# ------------------------------------------------------------------------- files


def load_assumptions(path: Path | str, base: Assumptions | None = None) -> Assumptions:
    """Read a scenario from a ``.toml`` or ``.json`` file."""
    path = Path(path)
    if not path.is_file():
        raise AssumptionError("errors.assumptions.scenario_file_not_found", path=path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return Assumptions.from_json(text, base)
    return Assumptions.from_toml(text, base)


def save_assumptions(assumptions: Assumptions, path: Path | str) -> Path:
    """Write a scenario as TOML or JSON, chosen by the file's suffix."""
    path = Path(path)
    text = assumptions.to_json() if path.suffix.lower() == ".json" else assumptions.to_toml()
    path.write_text(text, encoding="utf-8")
    return path


def parse_scenario(data: bytes, filename: str) -> Assumptions:
    """An uploaded scenario file (TOML or JSON by name, else sniffed)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AssumptionError("errors.assumptions.scenario_not_utf8") from None
    if filename.lower().endswith(".json") or text.lstrip().startswith("{"):
        return Assumptions.from_json(text)
    return Assumptions.from_toml(text)


def load_preset(preset_id: str) -> Assumptions:
    """One of the bundled presets (``PRESET_IDS``), read from ``data/scenarios``."""
    if preset_id not in PRESET_IDS:
        raise AssumptionError(
            "errors.assumptions.unknown_preset",
            preset_id=preset_id,
            choices=", ".join(PRESET_IDS),
        )
    return load_assumptions(SCENARIO_DIR / f"{preset_id}.toml")


def to_store(store, assumptions: Assumptions, name: str, dataset_id: str | None = None):
    """Save a scenario in the run store; returns the ScenarioRecord."""
    return store.save_scenario(name, assumptions.to_dict(), dataset_id=dataset_id)


def from_store(store, scenario_id: int) -> Assumptions:
    """Read a scenario saved with :func:`to_store`."""
    return Assumptions.from_dict(store.get_scenario(scenario_id).data)


# ------------------------------------------------------------ interface language


def localized_source(src: Source, lang: str) -> Source:
    """A source with its publisher, date and note in ``lang`` where the catalogue has them.

    Sources are data (scenario files and saved scenarios keep English); the catalogue's
    ``source_text`` section translates the known ones, and anything else (a user's note) stays.
    """
    from slm_core.i18n import localize_known

    return Source(*(localize_known(part, lang, "source_text.") for part in src))


def scenario_name(name: str, lang: str) -> str:
    """A preset's name in ``lang`` (a name the user typed is shown as typed)."""
    from slm_core.i18n import localize_known

    return localize_known(name, lang, "scenario.")
