"""Which words (or Chinese characters) drove a prediction, and how faithful that explanation is.

Linear models get an exact decomposition of their score; neural models get occlusion (blank
each token, measure how much the predicted class's probability drops). Both work on tokens of
the original text, so the interface can highlight the text exactly as the user typed it.

Faithfulness follows ERASER (DeYoung et al., 2020): comprehensiveness (how much the predicted
class's probability falls when the top-ranked tokens are removed) and sufficiency (how much it
falls when only they are kept), at several rationale sizes, against random tokens the model
reads, on a sample of test texts stratified by label, with a bootstrap interval over texts.
Known limit: occlusion ranks tokens by the same deletion the measure applies. No bin removes a
single token (where that would agree by construction), but from two tokens on occlusion still
has a home advantage over an attribution computed another way; the random baseline and the
interval, not the raw comprehensiveness, carry the judgement.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Same token shapes as slm_core.models.tokenize: one CJK character, a run of other word
# characters, or one punctuation mark, whatever the unit (scripts mix inside texts, and a
# Chinese sentence in an English file must not be one token). Blanking such a token therefore
# removes exactly one model token; on text without CJK characters this is ``\w+|[^\w\s]``.
_CJK = (
    "\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002fa1f\uf900-\ufaff"
    "\u3040-\u30ff\uac00-\ud7af\u3000-\u303f"
)
_TOKEN_RE = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+|[^\w\s]")
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
    """Character spans of the tokens of ``text``: words, and each CJK character on its own
    (``token_unit`` is accepted for the callers; both units split alike)."""
    return [m.span() for m in _TOKEN_RE.finditer(text)]


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


def _linear_losses(model: Any, text: str, spans: list[tuple[int, int]]) -> tuple[dict, list]:
    """The text's per-feature contributions and, per token, the vocabulary n-grams it holds.

    A token whose list is empty builds no feature the model knows: blanking it changes
    nothing the model reads.
    """
    contributions = dict(model.token_contributions(text))
    if not contributions or not spans:
        return contributions, [Counter() for _ in spans]
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
    return contributions, losses


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
    return _shared_weights(*_linear_losses(model, text, spans))


def _shared_weights(contributions: dict, losses: list) -> list[float]:
    """Each token's share of the features it builds (see :func:`_linear_attributions`)."""
    if not contributions:
        return [0.0] * len(losses)
    shares: Counter = Counter()
    for lost in losses:
        shares.update(lost)
    return [
        float(sum(contributions[g] * n / shares[g] for g, n in lost.items())) for lost in losses
    ]


# --------------------------------------------------------------------------- neural


def read_token_count(model: Any, text: str, spans: Sequence[tuple[int, int]]) -> int:
    """How many of ``spans`` (from the start) a model that reads ``max_len_`` tokens sees.

    Counted with the model's own tokenisation (its vocabulary, else its token unit), so a
    text whose normalised form splits differently from the highlighted spans is still cut
    where the model cuts it. Models without ``max_len_`` read every token.
    """
    max_len = int(getattr(model, "max_len_", 0) or 0)
    if max_len <= 0 or not spans:
        return len(spans)
    vocabulary = getattr(model, "vocabulary_", None)
    if vocabulary is not None and hasattr(vocabulary, "ids"):

        def count(prefix: str) -> int:
            return len(vocabulary.ids(prefix, max_len + 1))
    else:
        from slm_core.models.tokenize import tokenize

        unit = str(getattr(model, "token_unit", "word"))

        def count(prefix: str) -> int:
            return len(tokenize(prefix, unit))

    if count(text[: spans[-1][1]]) <= max_len:
        return len(spans)
    # Token counts of growing prefixes never fall: binary search the last prefix that fits.
    lo, hi = 0, len(spans)  # count of spans[:lo] fits, spans[:hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(text[: spans[mid - 1][1]]) <= max_len:
            lo = mid
        else:
            hi = mid
    return lo


def read_prefix(text: str, spans: Sequence[tuple[int, int]], n_read: int) -> str:
    """``text`` up to the end of its ``n_read``-th token, what a model reading a prefix sees.

    Why: blanking a token of the whole text would slide an unread token into the model's window,
    and a measured drop would include that token's effect.
    """
    return text[: spans[n_read - 1][1]] if 0 < n_read < len(spans) else text


def _occlusion_batch(
    model: Any, texts: Sequence[str], token_unit: str, max_tokens: int
) -> list[tuple[list[tuple[int, int]], np.ndarray, int, np.ndarray]]:
    """Spans, occlusion weights, tokens the model reads, and full probabilities for many texts.

    All variants of all texts go through ``predict_proba`` together (batched), because a
    Keras call has a fixed overhead far above the cost of one short text.
    """
    variants: list[str] = []
    layout = []
    for text in texts:
        spans = token_spans(text, token_unit)
        # Blanking a token the model never reads (past max_len_) changes nothing: weight 0.
        n_read = read_token_count(model, text, spans)
        occluded = spans[: min(max_tokens, n_read)]
        text = read_prefix(text, spans, n_read)
        layout.append((spans, len(variants), len(occluded), n_read))
        variants.append(text)
        variants.extend(_blank(text, [span]) for span in occluded)
    proba = _predict(model, variants)
    out = []
    for spans, first, n_occluded, n_read in layout:
        full = proba[first]
        k = int(full.argmax())
        weights = np.zeros(len(spans))
        weights[:n_occluded] = full[k] - proba[first + 1 : first + 1 + n_occluded, k]
        out.append((spans, weights, n_read, full))
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


@dataclass(frozen=True)
class Explained:
    """One text's token spans, attribution weights, and which tokens the model reads."""

    spans: list[tuple[int, int]]
    weights: np.ndarray
    read: np.ndarray  # indices into spans, in text order


def explain_texts(model: Any, texts: Sequence[str], token_unit: str) -> list[Explained]:
    """Attributions of many texts and the tokens the model reads in each.

    Linear models read the tokens that build at least one feature of their vocabulary: an
    unknown word adds nothing to the score or the TF-IDF norm, so drawing random tokens among
    such words would make the baseline look weaker than it is. Neural models read the first
    ``max_len_`` tokens of their own tokenisation, unknown words included (they become the
    out-of-vocabulary id, which the network sees).
    """
    if model_family(model) == "linear":
        out = []
        for text in texts:
            spans = token_spans(text, token_unit)
            contributions, losses = _linear_losses(model, text, spans)
            weights = np.asarray(_shared_weights(contributions, losses), dtype=float)
            read = np.array([i for i, lost in enumerate(losses) if lost], dtype=int)
            out.append(Explained(spans, weights, read))
        return out
    # Occlusion of every token the model reads: at most max_len_ model calls per text.
    return [
        Explained(spans, weights, np.arange(n_read))
        for spans, weights, n_read, _ in _occlusion_batch(model, texts, token_unit, sys.maxsize)
    ]


# ----------------------------------------------------------------- faithfulness

# ERASER's bins (DeYoung et al., 2020, AOPC): the share of the tokens the model reads
# that forms the rationale; AOPC is the mean over these bins.
ERASER_BINS = (0.01, 0.05, 0.10, 0.20, 0.50)
# Every bin removes (or keeps) at least this many tokens. Occlusion ranks tokens by deleting
# them one at a time, so removing only its top token would measure the ranking against
# itself (its drop is the largest single drop by construction); from two tokens on the
# removed set's effect was never measured while ranking.
MIN_RATIONALE_TOKENS = 2
RANDOM_DRAWS = 5  # random rationales per text and bin (their mean is the text's baseline)
FAITHFULNESS_LEVEL = 0.95
FAITHFULNESS_BOOT = 2000
FAITHFULNESS_SAMPLE = 100
MIN_PER_CLASS = 5


def stratified_indices(
    labels: Sequence[Any],
    limit: int = FAITHFULNESS_SAMPLE,
    seed: int = 0,
    min_per_class: int = MIN_PER_CLASS,
) -> np.ndarray:
    """At most ``limit`` positions, drawn per label in proportion to its count (seeded).

    Every label gets ``min_per_class`` positions (or all it has) before the rest is shared in
    proportion to the label counts, so a file sorted by label still yields every class.
    Positions are returned sorted.
    """
    labels = [str(x) for x in labels]
    n = len(labels)
    if n <= limit:
        return np.arange(n)
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    names = sorted(groups, key=lambda g: (-len(groups[g]), g))
    quota = {g: min(len(groups[g]), min_per_class) for g in names}
    if sum(quota.values()) > limit:  # more classes than the budget allows: one each, largest first
        quota = {g: 0 for g in names}
        for g in (names * limit)[:limit]:
            quota[g] += quota[g] < len(groups[g])
    while sum(quota.values()) < limit:
        # Largest shortfall against the proportional share gets the next position.
        open_ = [g for g in names if quota[g] < len(groups[g])]
        g = max(open_, key=lambda g: len(groups[g]) * limit / n - quota[g])
        quota[g] += 1
    rng = np.random.default_rng(seed)
    picked = [
        i for g in names for i in rng.choice(groups[g], size=quota[g], replace=False).tolist()
    ]
    return np.sort(np.asarray(picked, dtype=int))


def rationale_size(share: float, n_read: int, min_tokens: int = MIN_RATIONALE_TOKENS) -> int:
    """Tokens in a rationale of ``share`` of ``n_read`` read tokens: rounded up, at least
    ``min_tokens`` and at most ``n_read − 1`` (removing every token says nothing)."""
    return int(min(n_read - 1, max(min_tokens, math.ceil(share * n_read - 1e-9))))


@dataclass(frozen=True)
class Faithfulness:
    """ERASER comprehensiveness and sufficiency of a model's explanations on a sample of texts.

    All figures are on the probability of the class predicted for the full text, whatever the
    family. Per text and bin: comprehensiveness = p(full) − p(rationale removed), sufficiency
    = p(full) − p(only the rationale kept); the random baseline does the same with as many
    random tokens the model reads (mean of ``n_random`` draws). Each figure is the AOPC, the
    mean over bins, averaged over texts. ``comprehensiveness_gain`` = comprehensiveness −
    random's (higher is better); ``sufficiency_gain`` = random's sufficiency − sufficiency
    (the rationale alone keeps more than random tokens do). Intervals: percentile bootstrap
    over texts at ``level``.
    """

    method: str  # 'linear' (exact decomposition) or 'occlusion'
    n_texts: int
    n_skipped: int  # texts with fewer than min_tokens + 1 read tokens
    n_classes: int
    bins: tuple[float, ...] = ERASER_BINS
    min_tokens: int = MIN_RATIONALE_TOKENS
    n_random: int = RANDOM_DRAWS
    seed: int = 0
    level: float = FAITHFULNESS_LEVEL
    full_confidence: float | None = None
    comprehensiveness: float | None = None
    random_comprehensiveness: float | None = None
    sufficiency: float | None = None
    random_sufficiency: float | None = None
    comprehensiveness_gain: float | None = None
    comprehensiveness_gain_ci: tuple[float, float] | None = None
    sufficiency_gain: float | None = None
    sufficiency_gain_ci: tuple[float, float] | None = None
    by_bin: dict[str, list[float]] = field(default_factory=dict)

    @property
    def above_random(self) -> bool:
        """The comprehensiveness gain's interval lies above 0."""
        ci = self.comprehensiveness_gain_ci
        return ci is not None and np.isfinite(ci[0]) and ci[0] > 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bins"] = list(self.bins)
        for key in ("comprehensiveness_gain_ci", "sufficiency_gain_ci"):
            out[key] = None if out[key] is None else list(out[key])
        out["above_random"] = self.above_random
        return out


def _without(text: str, spans: Sequence[tuple[int, int]], drop: Sequence[int]) -> str:
    return _blank(text, [spans[i] for i in drop])


def _only(text: str, spans: Sequence[tuple[int, int]], keep: Sequence[int]) -> str:
    kept = set(int(i) for i in keep)
    return _blank(text, [s for i, s in enumerate(spans) if i not in kept])


def faithfulness(
    model: Any,
    texts: Sequence[str],
    *,
    token_unit: str = "word",
    bins: Sequence[float] = ERASER_BINS,
    min_tokens: int = MIN_RATIONALE_TOKENS,
    n_random: int = RANDOM_DRAWS,
    seed: int = 0,
    n_boot: int = FAITHFULNESS_BOOT,
    level: float = FAITHFULNESS_LEVEL,
    explained: Sequence[Explained] | None = None,
) -> Faithfulness:
    """ERASER comprehensiveness and sufficiency of ``model``'s attributions on ``texts``.

    Rationales and random baselines are drawn only from the tokens the model reads (see
    :func:`explain_texts`); bin sizes are shares of those. ``explained`` replaces the model's
    own attributions (e.g. to check that a scrambled ranking scores no better than random).
    Texts with fewer than ``min_tokens + 1`` read tokens are skipped.
    """
    from slm_core.resample import bootstrap_means, percentile_interval

    texts = list(texts)
    explained = (
        list(explained) if explained is not None else explain_texts(model, texts, token_unit)
    )
    method = "linear" if model_family(model) == "linear" else "occlusion"
    rng = np.random.default_rng(seed)
    variants: list[str] = []
    plan = []  # per used text: index of its full variant
    for text, ex in zip(texts, explained, strict=True):
        read = np.asarray(ex.read, dtype=int)
        if len(read) < min_tokens + 1:
            continue
        if method == "occlusion":  # a neural model reads a prefix of its tokens
            text = read_prefix(text, ex.spans, len(read))
        # Highest weight first; ties keep text order (stable) so results are reproducible.
        ranked = read[np.argsort(-np.asarray(ex.weights, dtype=float)[read], kind="stable")]
        plan.append(len(variants))
        variants.append(text)
        for share in bins:
            k = rationale_size(share, len(read), min_tokens)
            top = ranked[:k]
            variants.append(_without(text, ex.spans, top))
            variants.append(_only(text, ex.spans, top))
            for _ in range(n_random):
                pick = rng.choice(read, size=k, replace=False)
                variants.append(_without(text, ex.spans, pick))
                variants.append(_only(text, ex.spans, pick))
    n_classes = len(getattr(model, "classes_", []))
    if not plan:
        return Faithfulness(
            method, 0, len(texts), n_classes, tuple(bins), min_tokens, n_random, seed, level
        )
    proba = _predict(model, variants)
    per_text = 2 + 2 * n_random
    # rows: comprehensiveness, random's, sufficiency, random's; columns: texts; depth: bins
    figures = np.empty((4, len(plan), len(bins)))
    full = np.empty(len(plan))
    for t, first in enumerate(plan):
        cls = int(proba[first].argmax())
        p = proba[first:, cls]
        full[t] = p[0]
        for b in range(len(bins)):
            at = 1 + b * per_text
            rand = p[at + 2 : at + per_text].reshape(n_random, 2)
            figures[:, t, b] = p[0] - np.array(
                [p[at], rand[:, 0].mean(), p[at + 1], rand[:, 1].mean()]
            )
    aopc = figures.mean(axis=2)  # (4, texts)
    comp_gain = aopc[0] - aopc[1]
    suff_gain = aopc[3] - aopc[2]
    boot = bootstrap_means(np.vstack([comp_gain, suff_gain]), n_boot=n_boot, seed=seed)
    names = ("comprehensiveness", "random_comprehensiveness", "sufficiency", "random_sufficiency")
    return Faithfulness(
        method=method,
        n_texts=len(plan),
        n_skipped=len(texts) - len(plan),
        n_classes=int(proba.shape[1]),
        bins=tuple(float(b) for b in bins),
        min_tokens=min_tokens,
        n_random=n_random,
        seed=seed,
        level=level,
        full_confidence=float(full.mean()),
        comprehensiveness=float(aopc[0].mean()),
        random_comprehensiveness=float(aopc[1].mean()),
        sufficiency=float(aopc[2].mean()),
        random_sufficiency=float(aopc[3].mean()),
        comprehensiveness_gain=float(comp_gain.mean()),
        comprehensiveness_gain_ci=percentile_interval(boot[:, 0], level),
        sufficiency_gain=float(suff_gain.mean()),
        sufficiency_gain_ci=percentile_interval(boot[:, 1], level),
        by_bin={name: [float(v) for v in figures[i].mean(axis=0)] for i, name in enumerate(names)},
    )


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
