"""The LLM measurement's pure parts: the prompt, the strict answer parser, the sample and the
estimate shown before anything is sent (no server, no store)."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

from slm_core.errors import SlmError
from slm_core.llm import LLM_MODEL_ID, is_llm_run, llm_runs, model_runs
from slm_core.llm.endpoints import PRESETS, PRESETS_BY_KEY, Endpoint, key_from_env, redact
from slm_core.llm.plan import (
    MAX_EXAMPLE_CHARS,
    Plan,
    estimate,
    estimated_tokens,
    few_shot_examples,
    make_plan,
    stratified_positions,
)
from slm_core.llm.prompt import (
    Example,
    PromptSpec,
    build_messages,
    parse_answer,
    render_messages,
    response_format,
)

LABELS = ["neg", "pos", "neutral"]


# ------------------------------------------------------------------------------ parse_answer


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{"label": "pos"}', "pos"),
        ('  {"label":"neutral"}\n', "neutral"),
        ("pos", "pos"),
        ('```json\n{"label": "neg"}\n```', "neg"),
        ("```\npos\n```", "pos"),
        ("POS", "pos"),  # case folded
        ("ｐｏｓ", "pos"),  # full width folded (NFKC)
        ('{"label": "ＮＥＧ"}', "neg"),
        (' "Neutral". ', "neutral"),  # quotes, spaces and a final full stop
        ("pos。", "pos"),
    ],
)
def test_parse_answer_accepts_one_label_in_its_accepted_shapes(content, expected):
    assert parse_answer(content, LABELS) == expected


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "   ",
        "The answer is pos",  # a sentence that mentions a label
        "I think it is neg.",
        "pos or neg",  # two labels
        "pos, neg",
        '{"label": "pos", "confidence": 0.9}',  # JSON with extra keys
        '{"answer": "pos"}',
        '{"label": ["pos"]}',  # not a string
        '{"label": null}',
        '["pos"]',
        '{"label": "pos"',  # broken JSON
        '{"label": "positive"}',  # not one of the labels
        '```json\n{"label": "pos", "why": "good"}\n```',
    ],
)
def test_parse_answer_rejects_everything_else(content):
    assert parse_answer(content, LABELS) is None


def test_parse_answer_rejects_a_non_string_label_even_when_it_prints_as_one():
    assert parse_answer('{"label": 1}', ["1", "2"]) is None
    assert parse_answer('{"label": "1"}', ["1", "2"]) == "1"
    assert parse_answer("2", [1, 2]) == "2"  # labels are compared as text


def test_parse_answer_exact_match_wins_and_folded_ties_are_unparseable():
    labels = ["Pos", "pos", "neg"]
    assert parse_answer("Pos", labels) == "Pos"
    assert parse_answer("pos", labels) == "pos"
    assert parse_answer("POS", labels) is None  # folds to two labels: no guess


def test_parse_answer_chinese_labels():
    labels = ["正面", "负面"]
    assert parse_answer('{"label": "正面"}', labels) == "正面"
    assert parse_answer("负面。", labels) == "负面"
    assert parse_answer("这条是正面的", labels) is None


# ------------------------------------------------------------------------------ messages


def test_build_messages_zero_shot_is_system_then_the_text():
    spec = PromptSpec.default("en")
    messages = build_messages(spec, ["neg", "pos"], "a fine day")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert '"neg", "pos"' in messages[0]["content"]
    assert "{labels}" not in messages[0]["content"]
    # The JSON braces of the system template survive (slots are replaced, not formatted).
    assert '{"label": ' in messages[0]["content"]
    assert messages[1]["content"] == "Text:\na fine day"
    assert "[system]" in render_messages(messages) and "[user]" in render_messages(messages)


def test_build_messages_few_shot_puts_worked_examples_before_the_text():
    spec = PromptSpec.default("zh", mode="few", k=1)
    examples = [Example("bad one", "neg"), Example("good one", "pos")]
    messages = build_messages(spec, ["neg", "pos"], "the text", examples)
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[1]["content"] == "文本：\nbad one"
    assert json.loads(messages[2]["content"]) == {"label": "neg"}
    assert json.loads(messages[4]["content"]) == {"label": "pos"}
    assert messages[-1]["content"] == "文本：\nthe text"


def test_user_template_keeps_other_braces_and_fills_text():
    spec = PromptSpec(user='Classify <<{text}>> as {"label": ...}')
    messages = build_messages(spec, ["a"], "x{y}z")
    assert messages[-1]["content"] == 'Classify <<x{y}z>> as {"label": ...}'


def test_prompt_spec_checks_its_templates_and_mode():
    with pytest.raises(SlmError) as info:
        PromptSpec(user="no slot for the text")
    assert info.value.key == "errors.llm.user_template_needs_text"
    assert "{text}" in str(info.value)
    with pytest.raises(SlmError):
        PromptSpec(mode="many")
    with pytest.raises(SlmError):
        PromptSpec(mode="few", k=0)
    spec = PromptSpec.default("fr", mode="few", k=2)  # unknown language: English
    assert spec.user == PromptSpec.default("en").user
    assert spec.shots == 2 and PromptSpec(k=5).shots == 0
    assert PromptSpec.from_dict({**spec.to_dict(), "unknown": 1}) == spec


def test_response_format_admits_only_the_labels():
    fmt = response_format(["neg", 1, "pos"])
    assert fmt["type"] == "json_schema"
    schema = fmt["json_schema"]["schema"]
    assert fmt["json_schema"]["strict"] is True
    assert schema["properties"]["label"] == {"type": "string", "enum": ["neg", "1", "pos"]}
    assert schema["required"] == ["label"]
    assert schema["additionalProperties"] is False


# ------------------------------------------------------------------------------ sample


def _labels(counts: dict[str, int]) -> list[str]:
    # Interleaved, so positions of one label are not one block.
    out, left = [], dict(counts)
    while any(left.values()):
        for label in counts:
            if left[label]:
                out.append(label)
                left[label] -= 1
    return out


def test_stratified_positions_size_unique_and_in_range():
    labels = _labels({"a": 60, "b": 30, "c": 10})
    positions = stratified_positions(labels, 20, seed=0)
    assert len(positions) == 20
    assert len(set(positions)) == 20
    assert all(0 <= p < len(labels) for p in positions)


@pytest.mark.parametrize("n", [5, 7, 10, 20, 33, 50, 77, 99])
def test_stratified_positions_proportional_within_one(n):
    counts = {"a": 50, "b": 30, "c": 20}
    labels = _labels(counts)
    got = Counter(labels[p] for p in stratified_positions(labels, n, seed=3))
    assert sum(got.values()) == n
    for label, count in counts.items():
        assert abs(got[label] - n * count / len(labels)) <= 1.0 + 1e-9, (label, got)


@pytest.mark.parametrize("n", [4, 5, 7, 10, 20, 50])
def test_stratified_positions_every_label_present_when_n_at_least_k(n):
    # d's share of a sample of n is below one text; it still gets one when there is room.
    labels = _labels({"a": 60, "b": 30, "c": 8, "d": 2})
    got = Counter(labels[p] for p in stratified_positions(labels, n, seed=3))
    assert sum(got.values()) == n
    assert set(got) == {"a", "b", "c", "d"}, got


def test_stratified_positions_deterministic_per_seed():
    labels = _labels({"a": 40, "b": 25, "c": 15})
    assert stratified_positions(labels, 30, seed=7) == stratified_positions(labels, 30, seed=7)
    assert stratified_positions(labels, 30, seed=7) != stratified_positions(labels, 30, seed=8)


def test_stratified_positions_all_when_n_at_least_len():
    labels = _labels({"a": 5, "b": 3})
    for n in (8, 9, 1000):
        positions = stratified_positions(labels, n, seed=1)
        assert sorted(positions) == list(range(8))
    # shuffled, so a measurement cut short keeps a mix of labels
    assert stratified_positions(labels, 8, seed=1) != list(range(8))


# ------------------------------------------------------------------------------ plan and estimate


def _frames(n_train: int = 8, n_test: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.DataFrame(
        {
            "text": [f"train {lab} {i}" for lab in ("a", "b", "c") for i in range(n_train)],
            "label": [lab for lab in ("a", "b", "c") for _ in range(n_train)],
        }
    )
    test = pd.DataFrame(
        {
            "text": [f"test {lab} {i}" for lab in ("a", "b", "c") for i in range(n_test)],
            "label": [lab for lab in ("a", "b", "c") for _ in range(n_test)],
        }
    )
    return train, test


def test_few_shot_examples_come_from_the_train_frame_k_per_label():
    train, test = _frames()
    train.loc[len(train)] = ["only one d", "d"]
    examples = few_shot_examples(train, 2, seed=0)
    assert Counter(e.label for e in examples) == {"a": 2, "b": 2, "c": 2, "d": 1}
    assert [e.label for e in examples] == sorted(e.label for e in examples)
    assert {e.text for e in examples} <= set(train["text"])
    assert few_shot_examples(train, 2, seed=0) == examples
    assert few_shot_examples(train, 0, seed=0) == []

    spec = PromptSpec.default("en", mode="few", k=3)
    plan = make_plan(train, test, ["a", "b", "c", "d"], spec, 6)
    assert Counter(e.label for e in plan.examples) == {"a": 3, "b": 3, "c": 3, "d": 1}
    assert not {e.text for e in plan.examples} & set(test["text"])
    assert set(plan.texts) <= set(test["text"])
    # zero-shot: no examples at all
    assert make_plan(train, test, ["a", "b", "c"], PromptSpec(), 6).examples == ()


def test_few_shot_examples_cut_long_texts():
    train = pd.DataFrame({"text": ["x" * (MAX_EXAMPLE_CHARS + 50)], "label": ["a"]})
    (example,) = few_shot_examples(train, 1, seed=0)
    assert example.text == "x" * MAX_EXAMPLE_CHARS + "…"


def test_plan_round_trips_and_truth_matches_texts(tmp_path):
    train, test = _frames()
    plan = make_plan(train, test, ["a", "b", "c"], PromptSpec.default("en", "few", 1), 9)
    truth = dict(zip(test["text"], test["label"], strict=True))
    assert plan.n == 9 and plan.test_size == len(test)
    assert [truth[t] for t in plan.texts] == list(plan.truth)
    assert [test["text"][p] for p in plan.positions] == list(plan.texts)
    plan.save(tmp_path)
    assert Plan.load(tmp_path) == plan
    assert Plan.load(tmp_path / "elsewhere") is None


ENDPOINT = Endpoint("http://127.0.0.1:1/v1", "m", input_price_per_m=2.0, output_price_per_m=8.0)


def test_estimate_grows_with_sample_size_and_with_shots():
    train, test = _frames()
    zero = PromptSpec.default("en")
    small = estimate(make_plan(train, test, ["a", "b", "c"], zero, 3), zero, ENDPOINT)
    large = estimate(make_plan(train, test, ["a", "b", "c"], zero, 12), zero, ENDPOINT)
    assert small.n_texts == 3 and large.n_texts == 12
    assert large.input_tokens > small.input_tokens > 0
    assert large.output_tokens > small.output_tokens > 0
    assert large.cost_usd > small.cost_usd > 0

    few = PromptSpec.default("en", mode="few", k=2)
    shots = estimate(make_plan(train, test, ["a", "b", "c"], few, 12), few, ENDPOINT)
    assert shots.input_tokens_per_text > large.input_tokens_per_text
    assert shots.output_tokens_per_text == pytest.approx(large.output_tokens_per_text)
    assert shots.cost_usd == pytest.approx(ENDPOINT.price(shots.input_tokens, shots.output_tokens))
    assert shots.kind == "modelled"
    assert (shots.input_price_per_m, shots.output_price_per_m) == (2.0, 8.0)


def test_estimate_counts_cjk_at_0_6_tokens_per_char():
    assert estimated_tokens("你好世界") == pytest.approx(4 * 0.6)
    assert estimated_tokens("abcd") == pytest.approx(4 * 0.25)
    assert estimated_tokens("ab你好") == pytest.approx(2 * 0.25 + 2 * 0.6)

    spec = PromptSpec()

    def plan_of(text: str) -> Plan:
        return Plan(("a",), (0,), (text,), ("a",), (), 1)

    cjk = estimate(plan_of("文" * 40), spec, ENDPOINT)
    latin = estimate(plan_of("w" * 40), spec, ENDPOINT)
    assert cjk.input_tokens - latin.input_tokens == pytest.approx(40 * (0.6 - 0.25))


def test_estimate_of_an_empty_plan_is_zero():
    est = estimate(Plan(("a",), (), (), (), (), 0), PromptSpec(), ENDPOINT)
    assert (est.n_texts, est.input_tokens, est.cost_usd, est.input_tokens_per_text) == (0, 0, 0, 0)


# ------------------------------------------------------------------------------ run lists


class _Run:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id


def test_llm_runs_are_told_apart_from_small_models():
    runs = [_Run("tfidf_lr"), _Run(LLM_MODEL_ID), _Run("cnn")]
    assert is_llm_run(runs[1]) and not is_llm_run(runs[0])
    assert [r.model_id for r in model_runs(runs)] == ["tfidf_lr", "cnn"]
    assert llm_runs(runs) == [runs[1]]


# ------------------------------------------------------------------------------ endpoints and key


def test_redact_hides_the_key_and_its_tail():
    key = "sk-proj-abcdefghijklmnop"
    assert redact(f"bad key {key} given", key) == "bad key *** given"
    assert redact("Incorrect API key provided: sk-pro...klmnop", key) == (
        "Incorrect API key provided: sk-pro...***"
    )
    assert redact("nothing here", None) == "nothing here"
    assert redact("short abc123", "abc123") == "short ***"


def test_key_from_env_order_and_blank_values():
    assert key_from_env({}) == (None, None)
    assert key_from_env({"OPENAI_API_KEY": " sk-b "}) == ("sk-b", "OPENAI_API_KEY")
    env = {"SLM_LLM_API_KEY": "sk-a", "OPENAI_API_KEY": "sk-b"}
    assert key_from_env(env) == ("sk-a", "SLM_LLM_API_KEY")
    assert key_from_env({"SLM_LLM_API_KEY": "  ", "OPENAI_API_KEY": "sk-b"})[0] == "sk-b"


def test_endpoint_prices_round_trips_and_holds_no_key():
    preset = PRESETS_BY_KEY["openai_gpt4o_mini"]
    ep = Endpoint.from_preset(preset, timeout_s=5.0)
    assert (ep.model, ep.timeout_s, ep.input_price_per_m) == ("gpt-4o-mini", 5.0, 0.15)
    assert ep.price(1_000_000, 1_000_000) == pytest.approx(0.15 + 0.60)
    assert Endpoint.from_dict({**ep.to_dict(), "api_key": "sk-x"}) == ep
    assert not any("key" in name for name in ep.to_dict())
    assert {p.key for p in PRESETS} == set(PRESETS_BY_KEY)
