"""The hosted LLM as the value figures take it: measured on the user's own data, or assumed.

With a finished measurement of the dataset (:mod:`slm_core.llm`), the API option's accuracy is
the share the LLM got right on its sample of the test split (unparseable answers and failed
calls count as wrong), with its Wilson interval; its price per text is the tokens the API
reported × the endpoint's stated prices; its latency the measured p50. The scenario's
``llm_accuracy``, token counts, prices, name and latency are then not used
(:data:`REPLACED_FIELDS`). Without one, every figure rests on those assumptions, as before.

The cascade sends the texts its small model is not confident about to the LLM. Those are the
harder texts, so the LLM's accuracy on them is measured too: the sampled texts that are in the
run's test split and fall under the threshold (:func:`deferred_accuracy`). With fewer than
:data:`MIN_DEFERRED` of them the overall measured accuracy is used, and the figures say so.

``shift`` moves every measured accuracy by the same amount (clipped to 0–1): the decision's
break-even asks how far the LLM's accuracy would have to move to change the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from slm_core.value.assumptions import Assumptions
from slm_core.value.payoff import answered_at
from slm_core.value.scores import Note

if TYPE_CHECKING:  # slm_core.llm imports slm_core.value: no import cycle at run time
    from slm_core.llm.measurement import LLMMeasurement
    from slm_core.value.inputs import DatasetInputs, RunInputs

MEASURED, ASSUMED = "measured", "assumed"
# Below this many sampled texts deferred by a cascade, their accuracy is too noisy to use alone.
MIN_DEFERRED = 10
# Scenario fields a measurement replaces on the Value page (they are then not used there).
REPLACED_FIELDS: tuple[str, ...] = (
    "llm_name",
    "llm_accuracy",
    "llm_input_price_per_m",
    "llm_output_price_per_m",
    "llm_prompt_tokens",
    "llm_output_tokens",
    "tokens_per_char_latin",
    "tokens_per_char_cjk",
    "llm_latency_ms",
)
ACCURACY_METHOD = (
    "share of the sampled test texts the LLM labelled right (unparseable answers and failed "
    "calls count as wrong), Wilson 95% interval"
)
PRICE_METHOD = "measured tokens × stated prices: tokens from the API's usage field, per text"
LATENCY_METHOD = "wall time of each answering call, p50 and p95"
THRESHOLD_METHOD = (
    "threshold chosen on validation, with one input from the test sample: the LLM's overall "
    "measured accuracy (a single figure, not tuned per threshold)"
)
DEFERRED_METHOD = (
    "the LLM's accuracy on the sampled texts this small model defers (in the run's test split, "
    "confidence below the threshold); with fewer than {min} of them the overall measured "
    "accuracy"
)


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def accuracy_params(acc: float, ci: tuple[float, float], n: int) -> dict[str, str]:
    """The figures of an accuracy sentence: '87.5%', '82.2', '91.5%' and the count."""
    from slm_core.i18n import format_number

    return {
        "acc": f"{_pct(acc)}%",
        "low": _pct(ci[0]),
        "high": f"{_pct(ci[1])}%",
        "n": format_number(n),
    }


@dataclass(frozen=True)
class LLMBasis:
    """What the hosted-LLM option rests on: its name, accuracy, price per text and latency.

    ``kind`` is 'measured' (a measurement run of this dataset, ``run_id``) or 'assumed' (the
    scenario). Money is in the scenario's currency.
    """

    name: str
    kind: str
    accuracy: float
    price_per_text: float
    latency_ms: float | None  # p50 when measured
    input_tokens_per_text: float
    output_tokens_per_text: float
    accuracy_ci: tuple[float, float] | None = None
    n: int = 0  # sampled texts the accuracy is measured on (0 when assumed)
    majority_rate: float | None = None  # of those texts: what always answering one class gets
    latency_p95_ms: float | None = None
    run_id: int | None = None
    model: str | None = None
    usd_per_million: float | None = None  # measured price per 1M texts, in USD
    price_per_million: float | None = None  # the same in the scenario's currency
    usage_reported: bool = True
    prices_stated: bool = True  # False: the endpoint had no price; the scenario's prices are used
    shift: float = 0.0
    measurement: LLMMeasurement | None = field(default=None, repr=False, compare=False)

    @property
    def measured(self) -> bool:
        return self.kind == MEASURED

    @property
    def price_kind(self) -> str:
        """'measured' (tokens the API reported × stated prices); 'modelled' when the API left
        some usage unreported (the client's token estimate fills in) or the LLM is assumed."""
        measured = self.measured and self.usage_reported and self.prices_stated
        return MEASURED if measured else "modelled"

    @property
    def better_than_guessing(self) -> bool | None:
        """Measured: the accuracy interval's low end clears the majority-class rate (the guard
        every small model passes). Assumed: None (nothing to check)."""
        if not self.measured or self.accuracy_ci is None or self.majority_rate is None:
            return None
        low = self.accuracy_ci[0]
        return bool(np.isfinite(low) and low > self.majority_rate)

    def note(self) -> Note:
        """The sentence shown next to the LLM's column: measured on how many texts, or assumed."""
        if not self.measured or self.accuracy_ci is None:
            return Note("value.llm.assumed", {"acc": f"{_pct(self.accuracy)}%"})
        return Note("value.llm.measured", accuracy_params(self.accuracy, self.accuracy_ci, self.n))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "run_id": self.run_id,
            "model": self.model,
            "accuracy": self.accuracy,
            "accuracy_ci": None if self.accuracy_ci is None else list(self.accuracy_ci),
            "accuracy_kind": self.kind,
            "n": self.n,
            "majority_rate": self.majority_rate,
            "better_than_guessing": self.better_than_guessing,
            "price_per_text": self.price_per_text,
            "price_per_million": self.price_per_million,
            "usd_per_million": self.usd_per_million,
            "price_kind": self.price_kind,
            "input_tokens_per_text": self.input_tokens_per_text,
            "output_tokens_per_text": self.output_tokens_per_text,
            "usage_reported": self.usage_reported,
            "prices_stated": self.prices_stated,
            "latency_ms": self.latency_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_kind": MEASURED if self.measured and self.latency_ms is not None else ASSUMED,
            "shift": self.shift,
            "method": (
                {
                    "accuracy": ACCURACY_METHOD,
                    "price_per_text": PRICE_METHOD,
                    "latency": LATENCY_METHOD,
                }
                if self.measured
                else {"accuracy": "the scenario's llm_accuracy (assumed, never measured here)"}
            ),
        }


def assumed_basis(inputs: DatasetInputs, a: Assumptions) -> LLMBasis:
    """The LLM as the scenario assumes it (token estimate from the dataset's text lengths)."""
    from slm_core.value.serving import api_input_tokens, api_price_per_text

    return LLMBasis(
        name=a.llm_name,
        kind=ASSUMED,
        accuracy=a.llm_accuracy,
        price_per_text=api_price_per_text(inputs.lengths, a),
        latency_ms=a.llm_latency_ms,
        input_tokens_per_text=api_input_tokens(inputs.lengths, a),
        output_tokens_per_text=a.llm_output_tokens,
    )


def measured_usd_per_text(m: LLMMeasurement, a: Assumptions) -> tuple[float, bool]:
    """USD per text of a measurement and whether its endpoint stated a price.

    The measured tokens × the endpoint's prices; an endpoint measured with no price at all (a
    local server, or a provider whose price was left at 0) is priced at the scenario's
    ``llm_input/output_price_per_m`` instead, so a missing price never reads as a free API.
    """
    if m.endpoint.input_price_per_m > 0 or m.endpoint.output_price_per_m > 0:
        return m.cost_per_text_usd, True
    usd = (
        m.input_tokens_per_text * a.llm_input_price_per_m
        + m.output_tokens_per_text * a.llm_output_price_per_m
    ) / 1e6
    return usd, False


def measured_basis(m: LLMMeasurement, a: Assumptions) -> LLMBasis:
    """The LLM as measured by ``m`` on the user's data (prices converted to the currency)."""
    usd_per_text, stated = measured_usd_per_text(m, a)
    return LLMBasis(
        name=m.label,
        kind=MEASURED,
        accuracy=float(m.accuracy),
        price_per_text=a.usd(usd_per_text),
        latency_ms=m.latency_p50_ms,  # None when no call was answered in time
        input_tokens_per_text=m.input_tokens_per_text,
        output_tokens_per_text=m.output_tokens_per_text,
        accuracy_ci=tuple(float(x) for x in m.accuracy_ci),
        n=m.n,
        majority_rate=float(m.majority_rate),
        latency_p95_ms=m.latency_p95_ms,
        run_id=m.run_id,
        model=m.model,
        usd_per_million=usd_per_text * 1e6,
        price_per_million=a.usd(usd_per_text * 1e6),
        usage_reported=m.usage_reported,
        prices_stated=stated,
        measurement=m,
    )


def llm_basis(inputs: DatasetInputs, a: Assumptions, shift: float = 0.0) -> LLMBasis:
    """The measured LLM when ``inputs`` hold a usable measurement, else the assumed one.

    ``shift`` (measured only) moves the accuracy and its interval by that much, clipped to 0–1.
    """
    m = inputs.llm
    if m is None or m.n == 0:
        return assumed_basis(inputs, a)
    basis = measured_basis(m, a)
    if not shift:
        return basis
    low, high = basis.accuracy_ci
    return replace(
        basis,
        accuracy=_clip(basis.accuracy + shift),
        accuracy_ci=(_clip(low + shift), _clip(high + shift)),
        shift=shift,
    )


# ------------------------------------------------------------------ the cascade's deferred texts


@dataclass(frozen=True)
class DeferredAccuracy:
    """The LLM's accuracy on the texts a cascade sends it, and where that figure comes from.

    ``source``: 'deferred' (the sampled texts the small model defers), 'overall' (fewer than
    ``MIN_DEFERRED`` of them: the overall measured accuracy) or 'assumed' (no measurement).
    """

    accuracy: float
    source: str
    n_deferred_in_sample: int = 0
    n_sample_in_test: int = 0  # sampled texts found in this run's test split
    q_deferred: float | None = None
    q_deferred_ci: tuple[float, float] | None = None

    @property
    def kind(self) -> str:
        return ASSUMED if self.source == ASSUMED else MEASURED

    def note(self) -> Note | None:
        if self.source == "deferred":
            return Note(
                "value.llm.deferred",
                accuracy_params(self.q_deferred, self.q_deferred_ci, self.n_deferred_in_sample),
            )
        if self.source == "overall":
            return Note(
                "value.llm.deferred_few",
                {"n": str(self.n_deferred_in_sample), "min": str(MIN_DEFERRED)},
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "llm_accuracy_used": self.accuracy,
            "llm_accuracy_source": self.source,
            "llm_accuracy_kind": self.kind,
            "n_deferred_in_sample": self.n_deferred_in_sample,
            "n_sample_in_test": self.n_sample_in_test,
            "q_deferred": self.q_deferred,
            "q_deferred_ci": None if self.q_deferred_ci is None else list(self.q_deferred_ci),
            "method": DEFERRED_METHOD.format(min=MIN_DEFERRED) if self.kind == MEASURED else "",
        }


def deferred_mask(basis: LLMBasis, r: RunInputs, threshold: float) -> np.ndarray:
    """Per sampled text: in the run's test split and under ``threshold`` (sent to the LLM)."""
    m = basis.measurement
    rows = r.llm_rows
    if m is None or rows is None:
        return np.zeros(0 if m is None else m.n, dtype=bool)
    rows = np.asarray(rows, dtype=int)
    have = rows >= 0
    out = np.zeros(len(rows), dtype=bool)
    out[have] = ~answered_at(r.test.confidence[rows[have]], threshold)
    return out


def deferred_accuracy(basis: LLMBasis, r: RunInputs, threshold: float) -> DeferredAccuracy:
    """The accuracy the cascade of ``r`` at ``threshold`` gives the LLM on what it defers."""
    m = basis.measurement
    if not basis.measured or m is None:
        return DeferredAccuracy(basis.accuracy, ASSUMED)
    mask = deferred_mask(basis, r, threshold)
    in_test = 0 if r.llm_rows is None else int((np.asarray(r.llm_rows) >= 0).sum())
    acc, n, ci = m.accuracy_on(mask)
    if n < MIN_DEFERRED:
        return DeferredAccuracy(
            basis.accuracy,
            "overall",
            n_deferred_in_sample=n,
            n_sample_in_test=in_test,
            q_deferred=None if n == 0 else float(acc),
            q_deferred_ci=None if n == 0 else (float(ci[0]), float(ci[1])),
        )
    return DeferredAccuracy(
        _clip(float(acc) + basis.shift),
        "deferred",
        n_deferred_in_sample=n,
        n_sample_in_test=in_test,
        q_deferred=float(acc),
        q_deferred_ci=(float(ci[0]), float(ci[1])),
    )
