"""Which words (or Chinese characters) drove a prediction, and how faithful that explanation is.

Linear models get an exact decomposition of their score; neural models get occlusion (blank
each token, measure how much the predicted class's probability drops). Both work on tokens of
the original text, so the interface can highlight the text exactly as the user typed it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Same token shapes as slm_core.models.tokenize: a word or one punctuation mark; for 'char',
# one CJK character, a run of other word characters, or one punctuation mark. Blanking such a
# token therefore removes exactly one model token.
_CJK = (
    "\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002fa1f\uf900-\ufaff"
    "\u3040-\u30ff\uac00-\ud7af\u3000-\u303f"
)
_TOKEN_RE = {
    "word": re.compile(r"\w+|[^\w\s]"),
    "char": re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+|[^\w\s]"),
}
# Occlusion costs one model call per token; beyond this many tokens the rest get weight 0
# (neural models read at most a few hundred tokens anyway).
MAX_OCCLUDED_TOKENS = 400
PREDICT_CHUNK = 1024


@dataclass(frozen=True)
class TokenAttribution:
    """One token of the input, where it sits, and how much it pushed the predicted class.

    Positive ``weight`` supports the prediction, negative argues against it. Linear models:
    contribution to the predicted class's centred score (logit or log-probability units).
    Neural models: drop in the predicted class's probability when the token is blanked.
    """

    token: str
    weight: float
    start: int  # character offsets in the original text
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def token_spans(text: str, token_unit: str = "word") -> list[tuple[int, int]]:
    """Character spans of the tokens of ``text`` (words, or characters for CJK text)."""
    pattern = _TOKEN_RE.get(token_unit, _TOKEN_RE["word"])
    return [m.span() for m in pattern.finditer(text)]


def _blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with the given spans replaced by one space each (no neighbours glued together)."""
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(text[last:start])
        out.append(" ")
        last = end
    out.append(text[last:])
    return "".join(out)


def model_family(model: Any) -> str:
    """'linear' when the model exposes its TF-IDF features and weights, else 'neural'."""
    linear = hasattr(model, "token_contributions") and hasattr(model, "vectorizer_")
    return "linear" if linear else "neural"


def _predict(model: Any, texts: Sequence[str]) -> np.ndarray:
    parts = [
        np.asarray(model.predict_proba(list(texts[i : i + PREDICT_CHUNK])), dtype=float)
        for i in range(0, len(texts), PREDICT_CHUNK)
    ]
    return np.vstack(parts) if parts else np.zeros((0, len(model.classes_)))


# --------------------------------------------------------------------------- linear


def _linear_attributions(model: Any, text: str, spans: list[tuple[int, int]]) -> list[float]:
    """Exact split of the linear score over tokens.

    ``model.token_contributions`` gives, per n-gram feature j, c_j = tfidf_j x (w[pred, j] −
    mean_k w[k, j]); their sum is the predicted class's centred score minus its centred
    intercept. Each feature's c_j is shared among the tokens it is built from, in proportion
    to how many of its occurrences disappear when the token is blanked (a word pair counts
    half for each word; a Chinese character 4-gram a quarter for each character). The token
    weights therefore sum to the sum of the c_j, except for features that no token produces:
    the lone padding space character n-grams put at word boundaries (a few hundredths of the
    score at most).
    """
    contributions = dict(model.token_contributions(text))
    if not contributions or not spans:
        return [0.0] * len(spans)
    analyzer = model.vectorizer_.build_analyzer()
    ngram_max = int(getattr(model.vectorizer_, "ngram_range", (1, 1))[1])
    # Only n-grams near a token can change when it is blanked: analyse a window around it,
    # wide enough for the longest n-gram, instead of the whole text once per token.
    reach = ngram_max + 1
    losses: list[Counter] = []
    for i, (start, end) in enumerate(spans):
        lo = spans[max(0, i - reach)][0]
        hi = spans[min(len(spans) - 1, i + reach)][1]
        window = text[lo:hi]
        before = Counter(g for g in analyzer(window) if g in contributions)
        after = Counter(
            g for g in analyzer(_blank(window, [(start - lo, end - lo)])) if g in contributions
        )
        losses.append(before - after)  # Counter subtraction keeps positive counts only
    shares: Counter = Counter()
    for lost in losses:
        shares.update(lost)
    return [
        float(sum(contributions[g] * n / shares[g] for g, n in lost.items())) for lost in losses
    ]


# --------------------------------------------------------------------------- neural


def _occlusion_batch(
    model: Any, texts: Sequence[str], token_unit: str, max_tokens: int
) -> list[tuple[list[tuple[int, int]], np.ndarray, int, np.ndarray]]:
    """Spans, occlusion weights, predicted class and full probabilities for many texts.

    All variants of all texts go through ``predict_proba`` together (batched), because a
    Keras call has a fixed overhead far above the cost of one short text.
    """
    variants: list[str] = []
    layout = []
    # A model that reads only its first max_len_ tokens ignores later ones: blanking them
    # changes nothing, so they get 0 without being run.
    max_tokens = min(max_tokens, int(getattr(model, "max_len_", max_tokens) or max_tokens))
    for text in texts:
        spans = token_spans(text, token_unit)
        occluded = spans[:max_tokens]
        layout.append((spans, len(variants), len(occluded)))
        variants.append(text)
        variants.extend(_blank(text, [span]) for span in occluded)
    proba = _predict(model, variants)
    out = []
    for spans, first, n_occluded in layout:
        full = proba[first]
        k = int(full.argmax())
        weights = np.zeros(len(spans))
        weights[:n_occluded] = full[k] - proba[first + 1 : first + 1 + n_occluded, k]
        out.append((spans, weights, k, full))
    return out


# --------------------------------------------------------------------------- public


def token_attributions(
    model: Any, text: str, token_unit: str = "word", *, max_tokens: int = MAX_OCCLUDED_TOKENS
) -> list[TokenAttribution]:
    """Per-token attribution of ``model``'s prediction for ``text``, in text order.

    Linear TF-IDF models: exact contribution of each token to the predicted class's score.
    Other models: occlusion, the drop in the predicted class's probability when the token is
    blanked (the first ``max_tokens`` tokens, or as many as the model reads; later ones get 0).
    """
    if model_family(model) == "linear":
        spans = token_spans(text, token_unit)
        weights = _linear_attributions(model, text, spans)
    else:
        spans, weights, _, _ = _occlusion_batch(model, [text], token_unit, max_tokens)[0]
    return [
        TokenAttribution(text[s:e], float(w), s, e)
        for (s, e), w in zip(spans, weights, strict=True)
    ]


def _attribution_weights(
    model: Any, texts: Sequence[str], token_unit: str
) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
    if model_family(model) == "linear":
        out = []
        for text in texts:
            spans = token_spans(text, token_unit)
            out.append((spans, np.asarray(_linear_attributions(model, text, spans))))
        return out
    return [
        (spans, weights)
        for spans, weights, _, _ in _occlusion_batch(model, texts, token_unit, MAX_OCCLUDED_TOKENS)
    ]


def faithfulness(
    model: Any,
    texts: Sequence[str],
    k: int = 3,
    seed: int = 0,
    *,
    token_unit: str = "word",
    n_random: int = 3,
) -> dict[str, Any]:
    """How much removing the top-``k`` attributed tokens hurts, compared with ``k`` random ones.

    For each text with at least two tokens, the predicted class's probability is measured on
    the full text, with the ``k`` highest-weighted tokens blanked, and with ``k`` random tokens
    blanked (mean of ``n_random`` draws). A faithful explanation makes the first drop clearly
    larger than the second.

    Returns
    -------
    dict
        ``k``, ``n_texts`` (texts used), ``top_k_drop``, ``random_drop`` (mean probability
        drops), ``gain`` (their difference), ``full_confidence`` (mean probability of the
        predicted class on the full texts), ``n_classes`` and ``method`` ('linear' or
        'occlusion').
    """
    rng = np.random.default_rng(seed)
    explained = _attribution_weights(model, list(texts), token_unit)
    variants: list[str] = []
    plan = []  # (index of full text, index of top-k variant, indices of random variants)
    for text, (spans, weights) in zip(texts, explained, strict=True):
        if len(spans) < 2:
            continue
        kk = min(k, len(spans) - 1)
        top = np.argsort(-weights, kind="stable")[:kk]
        base = len(variants)
        variants.append(text)
        variants.append(_blank(text, [spans[i] for i in top]))
        for _ in range(n_random):
            pick = rng.choice(len(spans), size=kk, replace=False)
            variants.append(_blank(text, [spans[i] for i in pick]))
        plan.append(base)
    method = "linear" if model_family(model) == "linear" else "occlusion"
    if not plan:
        return {
            "k": k,
            "n_texts": 0,
            "top_k_drop": None,
            "random_drop": None,
            "gain": None,
            "full_confidence": None,
            "n_classes": len(getattr(model, "classes_", [])),
            "method": method,
        }
    proba = _predict(model, variants)
    top_drops, random_drops, full = [], [], []
    for base in plan:
        cls = int(proba[base].argmax())
        p_full = proba[base, cls]
        full.append(p_full)
        top_drops.append(p_full - proba[base + 1, cls])
        random_drops.append(p_full - proba[base + 2 : base + 2 + n_random, cls].mean())
    top_drop, random_drop = float(np.mean(top_drops)), float(np.mean(random_drops))
    return {
        "k": k,
        "n_texts": len(plan),
        "top_k_drop": top_drop,
        "random_drop": random_drop,
        "gain": top_drop - random_drop,
        # The scale a drop is judged on: confidence on full texts against chance (1 ÷ classes).
        "full_confidence": float(np.mean(full)),
        "n_classes": int(proba.shape[1]),
        "method": method,
    }


def timed_predict(model: Any, text: str, clock: Callable[[], float] | None = None):
    """Class probabilities for one text and the milliseconds the call took (wall clock)."""
    import time

    clock = clock or time.perf_counter
    started = clock()
    proba = np.asarray(model.predict_proba([text]), dtype=float)[0]
    return proba, (clock() - started) * 1000.0


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """One model's answer to one text: probabilities, measured time and token attributions,
    or the reason it could not answer (``error``, then the other fields stay empty)."""

    run_id: int
    classes: tuple[str, ...] = ()
    proba: tuple[float, ...] = ()
    ms: float = 0.0
    family: str = ""  # 'linear' or 'neural' (how its attributions were computed)
    attributions: tuple[TokenAttribution, ...] = ()
    error: str | None = None

    @property
    def predicted(self) -> str:
        """The most probable label (the first of equals)."""
        return self.classes[max(range(len(self.proba)), key=self.proba.__getitem__)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        return cls(
            run_id=int(data["run_id"]),
            classes=tuple(str(c) for c in data.get("classes", ())),
            proba=tuple(float(p) for p in data.get("proba", ())),
            ms=float(data.get("ms", 0.0)),
            family=str(data.get("family", "")),
            attributions=tuple(TokenAttribution(**a) for a in data.get("attributions", ())),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class AnsweredText:
    """A text put to every model of a dataset, and their answers in run order."""

    text: str
    dataset_id: str
    answers: tuple[Answer, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "dataset_id": self.dataset_id,
            "answers": [a.to_dict() for a in self.answers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnsweredText:
        answers = tuple(Answer.from_dict(a) for a in data.get("answers", ()))
        return cls(str(data["text"]), str(data["dataset_id"]), answers)


def answer(model: Any, text: str, token_unit: str, run_id: int) -> Answer:
    """``model``'s answer to ``text``: timed probabilities and per-token attributions."""
    proba, ms = timed_predict(model, text)
    return Answer(
        run_id=run_id,
        classes=tuple(str(c) for c in model.classes_),
        proba=tuple(float(p) for p in proba),
        ms=ms,
        family=model_family(model),
        attributions=tuple(token_attributions(model, text, token_unit)),
    )
