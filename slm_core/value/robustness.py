"""Robustness: how much accuracy a model loses when real-world noise hits the test texts.

Noise is seeded per text (``seed`` and the text's position), so the same seed always gives the
same noisy texts and one text's noise does not depend on the others. The rates imitate hurried
typing and are illustrative, stated on the page:

- Latin-script words: a typo (swap, drop, double or replace one letter with a keyboard
  neighbour), a case change (lower/UPPER/Title), dropped punctuation, doubled spaces.
- Chinese/Japanese/Korean characters, which have no letters to mistype: a dropped or doubled
  character, and full-width/half-width punctuation swaps (，↔, 。↔. ！↔!), as an input method
  or a copy from another system produces.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from slm_core.text import is_cjk_char

ROBUSTNESS_KIND = "robustness"
ROBUSTNESS_VERSION = 1
# Enough items for a stable accuracy difference while keeping a neural model's pass short.
MAX_ITEMS = 1000

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_KEYBOARD_ROWS):
    for _c, _ch in enumerate(_row):
        near = [_row[j] for j in (_c - 1, _c + 1) if 0 <= j < len(_row)]
        for _rr in (_r - 1, _r + 1):
            if 0 <= _rr < len(_KEYBOARD_ROWS):
                near += [
                    _KEYBOARD_ROWS[_rr][j] for j in (_c, _c + 1) if j < len(_KEYBOARD_ROWS[_rr])
                ]
        _NEIGHBOURS[_ch] = "".join(near)

_FULL_TO_HALF = {
    "，": ",",
    "。": ".",
    "！": "!",
    "？": "?",
    "：": ":",
    "；": ";",
    "（": "(",
    "）": ")",
    "“": '"',
    "”": '"',
    "、": ",",
}
_HALF_TO_FULL = {
    ",": "，",
    ".": "。",
    "!": "！",
    "?": "？",
    ":": "：",
    ";": "；",
    "(": "（",
    ")": "）",
}
_LATIN_PUNCT = set(".,;:!?'\"()-")


@dataclass(frozen=True)
class NoiseConfig:
    """Noise rates (illustrative): each is the chance per word, character or mark."""

    typo_rate: float = 0.05  # per Latin word
    case_rate: float = 0.10  # per Latin word
    punct_drop_rate: float = 0.50  # per Latin punctuation mark
    extra_space_rate: float = 0.05  # per space
    cjk_drop_rate: float = 0.03  # per CJK character
    cjk_dup_rate: float = 0.03  # per CJK character
    width_swap_rate: float = 0.50  # per punctuation mark with a full/half-width twin

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def of(cls, a) -> NoiseConfig:
        """The noise rates of a scenario (``Assumptions.noise_*``)."""
        return cls(**{f: float(getattr(a, f"noise_{f}")) for f in cls.__dataclass_fields__})


def _typo(word: str, rng: np.random.Generator) -> str:
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if not letters:
        return word
    i = letters[int(rng.integers(len(letters)))]
    kind = int(rng.integers(4))
    if kind == 0 and i + 1 < len(word):  # swap with the next character
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1 and len(word) > 1:  # drop
        return word[:i] + word[i + 1 :]
    if kind == 2:  # double
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    if not near:
        return word[:i] + word[i] + word[i:]
    repl = near[int(rng.integers(len(near)))]
    repl = repl.upper() if word[i].isupper() else repl
    return word[:i] + repl + word[i + 1 :]


def _case(word: str, rng: np.random.Generator) -> str:
    return (word.lower(), word.upper(), word.title())[int(rng.integers(3))]


def _latin_word(word: str, c: NoiseConfig, rng: np.random.Generator) -> str:
    if rng.random() < c.typo_rate:
        word = _typo(word, rng)
    if rng.random() < c.case_rate:
        word = _case(word, rng)
    out = []
    for ch in word:
        if ch in _LATIN_PUNCT and rng.random() < c.punct_drop_rate:
            continue
        out.append(ch)
    return "".join(out)


def _cjk_word(word: str, c: NoiseConfig, rng: np.random.Generator) -> str:
    out = []
    for ch in word:
        if ch in _FULL_TO_HALF and rng.random() < c.width_swap_rate:
            out.append(_FULL_TO_HALF[ch])
        elif ch in _HALF_TO_FULL and rng.random() < c.width_swap_rate:
            out.append(_HALF_TO_FULL[ch])
        elif is_cjk_char(ch) and ch not in _FULL_TO_HALF:
            r = rng.random()
            if r < c.cjk_drop_rate:
                continue
            out.append(ch * 2 if r < c.cjk_drop_rate + c.cjk_dup_rate else ch)
        else:
            out.append(ch)
    return "".join(out)


def noisy_text(text: str, config: NoiseConfig, rng: np.random.Generator) -> str:
    """One text with noise; words containing CJK characters get character-level noise."""
    parts = str(text).split(" ")
    out = []
    for part in parts:
        if any(is_cjk_char(ch) for ch in part):
            out.append(_cjk_word(part, config, rng))
        else:
            out.append(_latin_word(part, config, rng))
    joined = []
    for i, part in enumerate(out):
        if i:
            joined.append("  " if rng.random() < config.extra_space_rate else " ")
        joined.append(part)
    return "".join(joined)


def add_noise(texts: Sequence[str], config: NoiseConfig | None = None, seed: int = 0) -> list[str]:
    """Noisy copies of ``texts``; the same seed gives the same result, text by text."""
    config = config or NoiseConfig()
    return [
        noisy_text(t, config, np.random.default_rng([int(seed), i])) for i, t in enumerate(texts)
    ]


@dataclass(frozen=True)
class RobustnessResult:
    """Accuracy on clean and noisy copies of the same test texts."""

    clean_accuracy: float
    noisy_accuracy: float
    n: int
    seed: int
    config: NoiseConfig
    examples: tuple[tuple[str, str], ...] = ()
    cpu_seconds_per_prediction: float | None = None  # batch CPU time: a fallback cost figure
    version: int = ROBUSTNESS_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def drop(self) -> float:
        """Accuracy lost to the noise, as a share (0.05 = 5 points); never below 0."""
        return max(0.0, self.clean_accuracy - self.noisy_accuracy)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["drop"] = self.drop
        out["examples"] = [list(e) for e in self.examples]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RobustnessResult:
        return cls(
            clean_accuracy=float(data["clean_accuracy"]),
            noisy_accuracy=float(data["noisy_accuracy"]),
            n=int(data["n"]),
            seed=int(data["seed"]),
            config=NoiseConfig(**data.get("config", {})),
            examples=tuple(tuple(e) for e in data.get("examples", ())),
            cpu_seconds_per_prediction=data.get("cpu_seconds_per_prediction"),
            version=int(data.get("version", 0)),
            extra=dict(data.get("extra") or {}),
        )


def sample_indices(n: int, limit: int = MAX_ITEMS, seed: int = 0) -> np.ndarray:
    """At most ``limit`` test positions, a seeded sample in their original order."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def robustness_check(
    model,
    texts: Sequence[str],
    y_true: Sequence[str],
    config: NoiseConfig | None = None,
    seed: int = 0,
    limit: int = MAX_ITEMS,
    extra: dict[str, Any] | None = None,
) -> RobustnessResult:
    """Predict clean and noisy copies of (a seeded sample of) ``texts`` with ``model``.

    With ``extra`` (e.g. why the sample is smaller than usual), the result also holds it and a
    paired bootstrap interval of the accuracy lost (``drop_ci``, 95%), since a small sample's
    point figure alone would look surer than it is."""
    config = config or NoiseConfig()
    keep = sample_indices(len(texts), limit, seed)
    clean = [str(texts[i]) for i in keep]
    truth = np.array([str(y_true[i]) for i in keep])
    noisy = add_noise(clean, config, seed)
    classes = np.array([str(c) for c in model.classes_])
    started = time.process_time()
    clean_pred = classes[np.asarray(model.predict_proba(clean)).argmax(axis=1)] if clean else []
    cpu = time.process_time() - started
    noisy_pred = classes[np.asarray(model.predict_proba(noisy)).argmax(axis=1)] if noisy else []
    n = len(clean)
    changed = [(a, b) for a, b in zip(clean, noisy, strict=True) if a != b][:3]
    return RobustnessResult(
        clean_accuracy=float(np.mean(clean_pred == truth)) if n else 0.0,
        noisy_accuracy=float(np.mean(noisy_pred == truth)) if n else 0.0,
        n=n,
        seed=int(seed),
        config=config,
        examples=tuple((a[:200], b[:200]) for a, b in changed),
        cpu_seconds_per_prediction=cpu / n if n else None,
        extra={}
        if extra is None
        else {**extra, "drop_ci": _drop_interval(clean_pred, noisy_pred, truth, seed)},
    )


def _drop_interval(clean_pred, noisy_pred, truth, seed: int) -> list[float] | None:
    """95% percentile bootstrap interval of clean minus noisy accuracy, paired over texts."""
    from slm_core.resample import bootstrap_means, percentile_interval

    if not len(truth):
        return None
    lost = (np.asarray(clean_pred) == truth).astype(float) - (np.asarray(noisy_pred) == truth)
    low, high = percentile_interval(bootstrap_means(lost[None, :], 2000, seed)[:, 0], 0.95)
    return [float(low), float(high)]
