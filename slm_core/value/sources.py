"""Where every default assumption comes from, its unit, and how the editor groups the fields.

Sources follow ``shared/reference/value-defaults.md`` (figure, unit, date, source). Notes mark
second-hand sources with "⚠", numbers we made up to be replaced with "illustrative", and figures
nobody measured with "ASSUMPTION".
"""

from __future__ import annotations

from typing import NamedTuple


class Source(NamedTuple):
    """Where a default comes from: who published it, when, and how far to trust it."""

    source: str
    date: str
    note: str = ""


def _src(source: str, when: str, note: str = "") -> Source:
    return Source(source, when, note)


def _illustrative(note: str) -> Source:
    return Source("illustrative", "", f"illustrative: {note}")


# Grid carbon intensity, gCO2e/kWh, 2024 (Ember / Our World in Data): the one table the Value and
# Cost pages, the CLI and the report use.
GRID_INTENSITY: dict[str, float] = {"World": 471.0, "US": 384.0, "China": 555.0}
GRID_SOURCE = Source("Ember / Our World in Data", "2024", "World 471, US 384, China 555 gCO2e/kWh")

# Sources of the built-in defaults (the customer-service-triage preset).
DEFAULT_SOURCES: dict[str, Source] = {
    "annual_volume": _illustrative("replace with your yearly volume"),
    "minutes_per_item": _src(
        "industry blog summaries (e-commerce ticket handle time 5–15 min)",
        "2026",
        "⚠ second-hand; illustrative share: reading and routing only, not the whole reply",
    ),
    "hourly_labour_cost": _src(
        "BLS OES, customer service representatives (SOC 43-4051), median $42,830/yr",
        "May 2024",
        "⚠ via a third-party citation; ≈ $20.59/h at 2,080 h, not loaded with overheads",
    ),
    "human_accuracy": _src(
        "ASSUMPTION",
        "",
        "ASSUMPTION — people are taken to be right every time (favours keeping it manual); "
        "lower it if you know your team's error rate",
    ),
    "currency": _src("default", "", "wages, error costs and set-up are in this currency"),
    "fx_rate": _src("default", "", "1 for US dollars: cloud and API prices are published in USD"),
    "value_per_correct": _illustrative(
        "extra value of a right automated answer beyond the labour it saves (e.g. speed)"
    ),
    "payoff_mode": _src("default", "", "simple: one cost per kind of error"),
    "positive_class": _src("default", "", "none declared: every error costs the 'other' cost"),
    "cost_false_positive": _src(
        "derived", "", "≈ 15 min of the labour cost to re-handle a wrong item (illustrative)"
    ),
    "cost_false_negative": _src(
        "derived", "", "≈ 15 min of the labour cost to re-handle a wrong item (illustrative)"
    ),
    "cost_other_error": _src(
        "derived",
        "",
        "≈ 15 min of the labour cost ($20.59/h) to re-route and re-handle a wrong item "
        "(illustrative)",
    ),
    "payoff_matrix": _src("default", "", "empty: the simple-mode costs apply to every pair"),
    "setup_cost": _illustrative("one-off integration and testing cost"),
    "yearly_maintenance": _illustrative("yearly monitoring and retraining"),
    "serving_mode": _src(
        "default", "", "one always-on server: the usual way to serve a model to other systems"
    ),
    "price_per_vcpu_hour": _src(
        "AWS EC2 on-demand c7i.large (2 vCPU) $0.08925/h, us-east-1",
        "Jan 2025",
        "⚠ via a dated price table; ≈ $0.0446 per vCPU-hour",
    ),
    "instance_vcpus": _src("AWS EC2 c7i.large", "Jan 2025", "2 vCPU per instance"),
    "min_instances": _src(
        "assumption", "", "illustrative: 1 instance (2 for high availability) — not a price"
    ),
    "target_utilisation": _illustrative(
        "servers are sized to run at half their capacity at peak, leaving headroom"
    ),
    "business_hours_per_day": _illustrative("10 h × 250 days: replace with your traffic"),
    "business_days_per_year": _illustrative("10 h × 250 days: replace with your traffic"),
    "peak_factor": _illustrative("the busiest hour carries 3× the mean rate"),
    "serverless_price_per_gb_s": _src(
        "AWS Lambda x86 us-east-1, $0.0000166667 per GB-second (billed per 1 ms)",
        "2024–2025",
        "AWS whitepaper 'How AWS Pricing Works'; free tier (400,000 GB-s/month) not deducted",
    ),
    "serverless_price_per_m_requests": _src(
        "AWS Lambda requests, $0.20 per 1M",
        "2024–2025",
        "free tier (1M requests/month) not deducted",
    ),
    "serverless_min_memory_mb": _src(
        "AWS Lambda smallest memory setting (128 MB)", "2025", "⚠ from AWS documentation"
    ),
    "serverless_cold_start_share": _illustrative(
        "1% of requests wait for a fresh instance to load the model"
    ),
    "batch_runs_per_year": _illustrative("one nightly run"),
    "batch_min_billed_seconds": _src(
        "AWS EC2 per-second billing, 60-second minimum (Linux)",
        "2017–2025",
        "⚠ from AWS documentation, not in the shared reference table",
    ),
    "llm_name": _src("OpenAI gpt-4o-mini price list (simonwillison.net)", "Apr 2025", ""),
    "llm_input_price_per_m": _src(
        "OpenAI gpt-4o-mini, $0.15 per 1M input tokens (simonwillison.net/2025/Apr/14/gpt-4-1)",
        "Apr 2025, rechecked May 2026",
        "",
    ),
    "llm_output_price_per_m": _src(
        "OpenAI gpt-4o-mini, $0.60 per 1M output tokens (simonwillison.net/2025/Apr/14/gpt-4-1)",
        "Apr 2025, rechecked May 2026",
        "",
    ),
    "llm_output_tokens": _illustrative("the answer is one label name"),
    "llm_prompt_tokens": _illustrative("instructions and the list of labels sent with each text"),
    "llm_accuracy": _src(
        "ASSUMPTION",
        "",
        "ASSUMPTION — never measured here; set the accuracy you expect from the API on your data",
    ),
    "llm_answer_share": _src(
        "ASSUMPTION",
        "",
        "ASSUMPTION — the API answers every text (it never passes one to a person)",
    ),
    "llm_setup_cost": _illustrative("prompt design and integration"),
    "tokens_per_char_latin": _src(
        "OpenAI help article 4936856 (1 token ≈ 4 characters); Gemini token docs", "2025", ""
    ),
    "tokens_per_char_cjk": _src(
        "DeepSeek token-usage docs (1 Chinese character ≈ 0.6 token)",
        "2025",
        "Qwen (Aliyun Model Studio): ≈ 1 token per character — use 1.0 for Qwen",
    ),
    "llm_wh_per_query": _src(
        "Google, 'Measuring the environmental impact of delivering AI at Google scale': median "
        "Gemini Apps text prompt 0.24 Wh",
        "Aug 2025",
        "includes idle capacity and data-centre overhead; not independently vetted. Epoch AI "
        "estimates ≈ 0.3 Wh for a GPT-4o query (Feb 2025, ⚠ estimate)",
    ),
    "llm_latency_ms": _illustrative("about a second for a hosted API to answer one short text"),
    "grid_region": GRID_SOURCE,
    "grid_gco2_per_kwh": Source(
        "Ember / Our World in Data, world average 471 gCO2e/kWh", "2024", "US 384, China 555"
    ),
    "pue": _src("Uptime Institute annual survey, average data-centre PUE ≈ 1.56", "2024", ""),
    "cpu_watts_per_thread": _src(
        "CodeCarbon 3.3.2 fallback (CPU not in its TDP table)",
        "checked 2026",
        "4 W per busy thread; energy from it is modelled, not metered",
    ),
    "ram_watts_per_instance": _src(
        "CodeCarbon 3 RAM model: 5 W per x86 DIMM, at least two DIMMs", "2026", ""
    ),
    "idle_power_share": _illustrative(
        "an idle server still draws half of its busy CPU power (replace with your hardware's)"
    ),
    "device_disk_budget_mb": _src(
        "Apple App Clip size limit 15 MB (iOS 16)",
        "2026",
        "illustrative budget for a model that ships inside an app",
    ),
    "device_memory_budget_mb": _illustrative("serving-memory budget, tied to the App Clip figure"),
    "latency_budget_ms": _src(
        "Nielsen, Usability Engineering (1993): 0.1 s feels instantaneous", "1993", ""
    ),
    "payback_horizon_months": _illustrative(
        "a project that has not paid back in 24 months is not recommended"
    ),
    "interval_level": _src("default", "", "90% intervals for money figures"),
    "privacy_own_server": _illustrative(
        "score of a server you run: texts leave the device but stay in the organisation "
        "(on a device 100, to an outside API 0)"
    ),
    "language_penalty": _illustrative(
        "a model whose tokens do not suit the script keeps half its access score"
    ),
    "energy_score_decades": _illustrative(
        "100× less energy per text than the hosted LLM scores 100, the same 50, 100× more 0"
    ),
    "fairness_gap_zero": _illustrative("a 50-point gap between best and worst group scores 0"),
    "min_group_size": _illustrative("groups with fewer test texts are listed, not compared"),
    "feedback_min_ratings": _illustrative(
        "fewer ratings are shown but left out of the score (never lower it for being scarce)"
    ),
    "noise_typo_rate": _illustrative("a typo in 5% of words"),
    "noise_case_rate": _illustrative("a case change in 10% of words"),
    "noise_punct_drop_rate": _illustrative("half the punctuation dropped"),
    "noise_extra_space_rate": _illustrative("5% of spaces doubled"),
    "noise_cjk_drop_rate": _illustrative("3% of CJK characters dropped"),
    "noise_cjk_dup_rate": _illustrative("3% of CJK characters doubled"),
    "noise_width_swap_rate": _illustrative("half the punctuation swapped full-/half-width"),
    "business_weights": _src("default", "", "equal-ish weights; edit to your priorities"),
    "social_weights": _src("default", "", "equal weights; edit to your priorities"),
    "business_share": _src("default", "", "half business, half social in the overall score"),
}

# Unit of each numeric field: "{cur}" is the scenario's currency; prices published in US dollars
# keep "USD" and are converted with ``fx_rate``.
FIELD_UNITS: dict[str, str] = {
    "annual_volume": "texts/yr",
    "minutes_per_item": "min/text",
    "hourly_labour_cost": "{cur}/h",
    "human_accuracy": "0–1",
    "fx_rate": "{cur}/USD",
    "value_per_correct": "{cur}/text",
    "cost_false_positive": "{cur}/error",
    "cost_false_negative": "{cur}/error",
    "cost_other_error": "{cur}/error",
    "setup_cost": "{cur}",
    "yearly_maintenance": "{cur}/yr",
    "price_per_vcpu_hour": "USD/vCPU-h",
    "instance_vcpus": "vCPU",
    "min_instances": "instances",
    "target_utilisation": "0–1",
    "business_hours_per_day": "h/day",
    "business_days_per_year": "days/yr",
    "peak_factor": "×",
    "serverless_price_per_gb_s": "USD/GB-s",
    "serverless_price_per_m_requests": "USD/1M requests",
    "serverless_min_memory_mb": "MB",
    "serverless_cold_start_share": "0–1",
    "batch_runs_per_year": "runs/yr",
    "batch_min_billed_seconds": "s/run",
    "llm_input_price_per_m": "USD/1M tokens",
    "llm_output_price_per_m": "USD/1M tokens",
    "llm_output_tokens": "tokens/answer",
    "llm_prompt_tokens": "tokens/text",
    "llm_accuracy": "0–1",
    "llm_answer_share": "0–1",
    "llm_setup_cost": "{cur}",
    "tokens_per_char_latin": "tokens/char",
    "tokens_per_char_cjk": "tokens/char",
    "llm_wh_per_query": "Wh/text",
    "llm_latency_ms": "ms",
    "grid_gco2_per_kwh": "gCO2e/kWh",
    "pue": "×",
    "cpu_watts_per_thread": "W/thread",
    "ram_watts_per_instance": "W",
    "idle_power_share": "0–1",
    "device_disk_budget_mb": "MB",
    "device_memory_budget_mb": "MB",
    "latency_budget_ms": "ms",
    "payback_horizon_months": "months",
    "interval_level": "0–1",
    "privacy_own_server": "points",
    "language_penalty": "×",
    "energy_score_decades": "decades",
    "fairness_gap_zero": "0–1",
    "min_group_size": "texts",
    "feedback_min_ratings": "ratings",
    "noise_typo_rate": "0–1",
    "noise_case_rate": "0–1",
    "noise_punct_drop_rate": "0–1",
    "noise_extra_space_rate": "0–1",
    "noise_cjk_drop_rate": "0–1",
    "noise_cjk_dup_rate": "0–1",
    "noise_width_swap_rate": "0–1",
    "business_share": "0–1",
}

# Fields priced in US dollars as published: formulas multiply them by ``fx_rate``.
USD_FIELDS: tuple[str, ...] = tuple(k for k, u in FIELD_UNITS.items() if u.startswith("USD"))
# Fields holding money in the scenario's currency or in USD (a test edits each of them).
MONEY_FIELDS: tuple[str, ...] = tuple(
    k for k, u in FIELD_UNITS.items() if u.startswith(("{cur}", "USD")) and k != "fx_rate"
)

# How the editor groups the fields (tabs), in display order.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "people": (
        "annual_volume",
        "minutes_per_item",
        "hourly_labour_cost",
        "human_accuracy",
        "value_per_correct",
        "currency",
        "fx_rate",
    ),
    "errors": (
        "payoff_mode",
        "positive_class",
        "cost_false_positive",
        "cost_false_negative",
        "cost_other_error",
    ),
    "serving": (
        "serving_mode",
        "setup_cost",
        "yearly_maintenance",
        "price_per_vcpu_hour",
        "instance_vcpus",
        "min_instances",
        "target_utilisation",
        "business_hours_per_day",
        "business_days_per_year",
        "peak_factor",
        "serverless_price_per_gb_s",
        "serverless_price_per_m_requests",
        "serverless_min_memory_mb",
        "serverless_cold_start_share",
        "batch_runs_per_year",
        "batch_min_billed_seconds",
    ),
    "llm": (
        "llm_name",
        "llm_accuracy",
        "llm_answer_share",
        "llm_input_price_per_m",
        "llm_output_price_per_m",
        "llm_prompt_tokens",
        "llm_output_tokens",
        "llm_setup_cost",
        "tokens_per_char_latin",
        "tokens_per_char_cjk",
        "llm_wh_per_query",
        "llm_latency_ms",
    ),
    "energy": (
        "grid_region",
        "grid_gco2_per_kwh",
        "pue",
        "cpu_watts_per_thread",
        "ram_watts_per_instance",
        "idle_power_share",
        "device_disk_budget_mb",
        "device_memory_budget_mb",
        "latency_budget_ms",
    ),
    "scoring": (
        "payback_horizon_months",
        "interval_level",
        "privacy_own_server",
        "language_penalty",
        "energy_score_decades",
        "fairness_gap_zero",
        "min_group_size",
        "feedback_min_ratings",
    ),
    "measurement": (
        "noise_typo_rate",
        "noise_case_rate",
        "noise_punct_drop_rate",
        "noise_extra_space_rate",
        "noise_cjk_drop_rate",
        "noise_cjk_dup_rate",
        "noise_width_swap_rate",
    ),
    "weights": ("business_share",),
}
