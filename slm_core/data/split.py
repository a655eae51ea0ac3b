"""Train/validation/test splits that never leak a text across splits, and a stable dataset hash."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from slm_core.data.columns import SPLIT_VALUES
from slm_core.data.types import SplitConfig, Splits
from slm_core.errors import DataError, Phrase, Phrases
from slm_core.text import is_cjk_char

log = logging.getLogger(__name__)

# Below this many distinct texts a class cannot go through two stratified train_test_split
# calls reliably (the 30% hold-out must again hold at least two of it), so it is split by hand.
MIN_STRATIFIED = 10
CANONICAL_COLUMNS = ("text", "label", "group", "split")
# A text key never holds a control character, so this prefix keeps the raw-text fallback for
# texts made only of punctuation or emoji apart from every ordinary key.
_RAW_KEY_PREFIX = "\x00"
# Unicode categories dropped from a text key: punctuation, symbols (emoji too), controls and
# format characters, separators. Letters, marks and digits remain.
_DROPPED_CATEGORIES = frozenset("PSCZ")
# A run of three or more identical characters other than digits ("soooo", "!!!" is gone by
# then, "哈哈哈哈"); digits are never shortened so 1000 and 10 stay apart.
_RUN_RE = re.compile(r"([^\d\s])\1{2,}")
# Any character three times in a row: a scan several times faster than _RUN_RE's over a long
# text (no character class to test at every position), so most texts skip _RUN_RE altogether.
_ANY_RUN_RE = re.compile(r"(.)\1\1", re.DOTALL)
# Rows listed in a "text in two splits" error, and texts quoted per group.
SHOWN_STRADDLING_GROUPS = 5
SHOWN_ROWS_PER_GROUP = 4
SHOWN_TEXTS_PER_GROUP = 2
SHOWN_TEXT_CHARS = 40


@dataclass(frozen=True)
class CleanRows:
    """Rows fit for training: no empty text or label, no conflicting or duplicate texts."""

    # Canonical columns plus "_key" (text_key) and "_row", the row's 1-based position in the
    # file's examples (what a user counts), for error messages.
    frame: pd.DataFrame
    removed_empty: int
    removed_conflicts: int
    removed_duplicates: int


class _KeyTable(dict):
    """``str.translate`` table: punctuation, symbols and controls deleted, separators to spaces.

    Filled one character at a time on first sight (a table of all of Unicode is not needed).
    """

    def __missing__(self, codepoint: int) -> str | None:
        char = chr(codepoint)
        if char.isspace() or unicodedata.category(char)[0] == "Z":
            value = " "
        elif unicodedata.category(char)[0] in _DROPPED_CATEGORIES:
            value = None
        else:
            value = char
        self[codepoint] = value
        return value


_KEY_TABLE = _KeyTable()


def _shorten_run(match: re.Match[str]) -> str:
    # Chinese doubles words on purpose (好好学习, 慢慢, 哈哈), so a CJK run keeps two characters;
    # no English word has three identical letters in a row, so a Latin run is lengthening
    # ("soooo", "loooove") and keeps one.
    char = match.group(1)
    return char * 2 if is_cjk_char(char) else char


# Above this many characters runs are shortened with array operations: the regex's scan costs
# ~0.2 µs a character, 6 s on one 30 MB text.
_LONG_TEXT = 20_000


def _shorten_runs(text: str) -> str:
    """``_RUN_RE.sub(_shorten_run, text)``, for long texts with numpy."""
    if len(text) < _LONG_TEXT:
        return _RUN_RE.sub(_shorten_run, text)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    n = len(codes)
    same = codes[1:] == codes[:-1]  # same[i]: character i + 1 repeats character i
    # In a run of 3+: "second" is its second character (same on both sides), "third" any
    # character from its third on. Runs of one character keep 1 (or 2 for CJK) of them.
    second = np.zeros(n, dtype=bool)
    second[1:-1] = same[:-1] & same[1:]
    third = np.zeros(n, dtype=bool)
    third[2:] = same[1:] & same[:-1]
    if not second.any():
        return text
    chars = np.unique(codes[second])  # the distinct characters of runs (few)
    keeps = np.array([_run_keeps(chr(c)) for c in chars.tolist()])
    keep_one = np.isin(codes, chars[keeps == 1])
    keep_two = np.isin(codes, chars[keeps == 2])
    kept = ~((second & keep_one) | (third & (keep_one | keep_two)))
    return codes[kept].tobytes().decode("utf-32-le")


def _run_keeps(char: str) -> int:
    """How many characters of a run of ``char`` a key keeps (3: the whole run)."""
    if char.isdecimal() or char.isspace():
        return 3
    return 2 if is_cjk_char(char) else 1


def one_text_key(text: object) -> str:
    """The key under which texts count as the same text for splitting and de-duplication.

    NFKC (full-width ``ｇｒｅａｔ`` is ``great``) and case folding; punctuation, symbols, emoji
    and all spacing dropped (``Great!!`` is ``great``); a run of three or more identical
    characters shortened, to one for Latin and other letters (``soooo`` is ``so``) and to two
    for CJK (``哈哈哈哈`` is ``哈哈``, while ``好好学习`` is left alone); digits never
    shortened. A text made only of punctuation, symbols or emoji keeps its case-folded raw text
    as key, so such texts are not all one group.
    """
    raw = unicodedata.normalize("NFKC", str(text)).casefold()
    kept = raw.translate(_KEY_TABLE)
    run = _ANY_RUN_RE.search(kept)
    if run is not None:  # shorten from the first run of any character on
        kept = kept[: run.start()] + _shorten_runs(kept[run.start() :])
    key = kept.replace(" ", "")
    return key or _RAW_KEY_PREFIX + " ".join(raw.split())


def text_key(texts: pd.Series) -> pd.Series:
    """:func:`one_text_key` of every text: rows sharing a key never go to different splits."""
    return pd.Series([one_text_key(t) for t in texts.astype(str)], index=texts.index, dtype=object)


def split_role(value: str) -> str | None:
    """'train', 'val' or 'test' for a user's split value (case-insensitive), else None."""
    return SPLIT_VALUES.get(str(value).strip().casefold())


def clean_rows(
    canonical: pd.DataFrame,
    config: SplitConfig = SplitConfig(),  # noqa: B008
    *,
    keys: pd.Series | None = None,
) -> CleanRows:
    """Drop rows without text or label, then conflicting-label texts and duplicates per config.

    With ``dedupe`` the first row of each (text, label) pair is kept; conflicting texts that are
    kept (``drop_conflicts=False``) keep one row per label and are later kept in one split.
    Texts are compared by :func:`text_key`; ``keys``, when given, is its value for every row of
    ``canonical`` in order (a caller that has it already saves computing it again).
    """
    frame = canonical.reset_index(drop=True)
    frame = frame.assign(_row=np.arange(1, len(frame) + 1))
    keep = (frame["text"] != "") & (frame["label"] != "")
    removed_empty = int((~keep).sum())
    if keys is None:
        frame = frame[keep].assign(_key=lambda f: text_key(f["text"]))
    else:
        frame = frame.assign(_key=keys.set_axis(frame.index))[keep]
    removed_conflicts = 0
    if config.drop_conflicts:
        labels_per_key = frame.groupby("_key", sort=False)["label"].nunique()
        conflicted = frame["_key"].isin(labels_per_key.index[labels_per_key > 1])
        removed_conflicts = int(conflicted.sum())
        frame = frame[~conflicted]
    removed_duplicates = 0
    if config.dedupe:
        subset = ["_key", "label"]
        if "split" in frame.columns:
            # One row per text *and split*: a copy the user's split column puts in another split
            # must reach the one-key-one-split check (an error), not vanish from their test set.
            frame = frame.assign(_role=frame["split"].astype(str).map(split_role))
            subset.append("_role")
        duplicated = frame.duplicated(subset)
        removed_duplicates = int(duplicated.sum())
        frame = frame[~duplicated].drop(columns="_role", errors="ignore")
    return CleanRows(frame, removed_empty, removed_conflicts, removed_duplicates)


def _check_config(config: SplitConfig) -> None:
    ratios = (config.train, config.val, config.test)
    if min(ratios) < 0 or config.train <= 0 or config.test <= 0:
        raise DataError(
            "errors.split.ratios_not_positive",
            train=f"{config.train:g}",
            val=f"{config.val:g}",
            test=f"{config.test:g}",
        )
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise DataError(
            "errors.split.ratios_not_summing_to_one",
            train=f"{config.train:g}",
            val=f"{config.val:g}",
            test=f"{config.test:g}",
            total=f"{sum(ratios):g}",
        )


def make_splits(canonical: pd.DataFrame, config: SplitConfig = SplitConfig()) -> Splits:  # noqa: B008
    """Stratified train/val/test frames (columns text, label[, group]), deterministic per seed.

    Rows with the same :func:`text_key` always land in the same split, whether or not
    duplicates and conflicting texts are removed: the unit of assignment is the key, not the row.
    A ``split`` column, when present, decides each row's split instead (train / val /
    validation / dev / test); if it puts one key in two splits (after the configured removals)
    a ``DataError`` lists those rows rather than moving them silently.
    The ``group`` column is carried along for per-group results and does not steer the split:
    every group should reach the test split to be measured.
    Small classes (fewer than ``MIN_STRATIFIED`` distinct texts) are allotted by hand so each
    still reaches test (and validation) when it has enough rows; ``train.attrs["split_notes"]``
    says when that happened.
    """
    _check_config(config)
    clean = clean_rows(canonical, config)
    frame = clean.frame
    if frame.empty:
        raise DataError("errors.split.no_rows_left")
    notes: list[str] = []
    if "split" in frame.columns:
        roles = _user_roles(frame, config, notes)
    else:
        units = frame.drop_duplicates("_key")
        unit_roles = _stratified_roles(units["label"].to_numpy(), config, notes)
        roles = frame["_key"].map(dict(zip(units["_key"], unit_roles, strict=True)))
    columns = [c for c in ("text", "label", "group") if c in frame.columns]
    parts = {
        role: frame.loc[(roles == role).to_numpy(), columns].reset_index(drop=True)
        for role in ("train", "val", "test")
    }
    for note in notes:
        log.info("split: %s", note)
    parts["train"].attrs["split_notes"] = tuple(notes)
    return Splits(
        train=parts["train"],
        val=parts["val"],
        test=parts["test"],
        labels=tuple(sorted(frame["label"].unique())),
        config=config,
        removed_duplicates=clean.removed_duplicates,
        removed_conflicts=clean.removed_conflicts,
        removed_empty=clean.removed_empty,
    )


def _user_roles(frame: pd.DataFrame, config: SplitConfig, notes: list[str]) -> pd.Series:
    """Roles from the user's split column; validation is carved from train when none is given."""
    roles = frame["split"].map(split_role)
    bad = frame.loc[roles.isna(), "split"]
    if len(bad):
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(bad))[:5])
        raise DataError("errors.split.bad_split_values", count=f"{len(bad):,}", shown=shown)
    for needed in ("train", "test"):
        if not (roles == needed).any():
            raise DataError("errors.split.missing_part", needed=needed)
    _check_keys_in_one_split(frame, roles)
    if not (roles == "val").any() and config.val > 0:
        train = frame[roles == "train"].drop_duplicates("_key")
        share = config.val / (config.train + config.val)
        carve = SplitConfig(train=1 - share, val=0.0, test=share, seed=config.seed)
        picked = _stratified_roles(train["label"].to_numpy(), carve, [])
        val_keys = set(train["_key"][picked == "test"])
        roles = roles.mask((roles == "train") & frame["_key"].isin(val_keys), "val")
        notes.append(
            f"the split column has no validation rows; {len(val_keys):,} training texts "
            "were set aside for validation"
        )
    return roles


def _check_keys_in_one_split(frame: pd.DataFrame, roles: pd.Series) -> None:
    """Raise when the user's split column puts rows with one text key in two splits.

    Moving such rows quietly would change the user's test set behind their back, and keeping
    them would score the model on texts it trained on; the user decides which split they go to.
    """
    roles_per_key = roles.groupby(frame["_key"].to_numpy(), sort=False).nunique()
    straddling = roles_per_key.index[roles_per_key > 1]
    if len(straddling) == 0:
        return
    offending = frame[frame["_key"].isin(straddling)].assign(_role=roles)
    parts = []
    for _, rows in list(offending.groupby("_key", sort=False))[:SHOWN_STRADDLING_GROUPS]:
        # One row of each split first, so the rows shown always show the clash.
        firsts = rows.drop_duplicates("_role")
        shown = pd.concat([firsts, rows.drop(firsts.index)]).head(SHOWN_ROWS_PER_GROUP)
        shown = shown.sort_values("_row")
        listed = ", ".join(
            f"{r} ({role})" for r, role in zip(shown["_row"], shown["_role"], strict=True)
        )
        more = len(rows) - len(shown)
        texts = list(dict.fromkeys(shown["text"]))[:SHOWN_TEXTS_PER_GROUP]
        parts.append(
            Phrase(
                "errors.split.straddling_rows",
                rows=listed + (f", … (+{more})" if more else ""),
                texts=" / ".join(repr(_shorten(t)) for t in texts),
            )
        )
    raise DataError(
        "errors.split.key_in_two_splits",
        keys=f"{len(straddling):,}",
        rows=f"{len(offending):,}",
        shown=Phrases(parts),
    )


def _shorten(text: str) -> str:
    return text if len(text) <= SHOWN_TEXT_CHARS else text[: SHOWN_TEXT_CHARS - 1] + "…"


def _two_way(
    units: np.ndarray, share: float, labels: np.ndarray, seed: int, what: str, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """train_test_split stratified by label, else plain, else everything in the first part.

    scikit-learn's own algorithm and draws (slm_core.data.stratify), without importing it:
    pages that only split (the LLM page's plan) skip its ~2 s import.
    """
    from slm_core.data.stratify import train_test_split

    try:
        return train_test_split(units, share, seed, stratify=labels[units])
    except ValueError:
        pass
    try:
        first, second = train_test_split(units, share, seed)
    except ValueError:
        notes.append(f"too few texts for a {what} split; all went to the first part")
        return units, units[:0]
    notes.append(f"the {what} split could not be stratified")
    return first, second


def _stratified_roles(labels: np.ndarray, config: SplitConfig, notes: list[str]) -> np.ndarray:
    """'train'/'val'/'test' per unit: two stratified scikit-learn splits, small classes by hand."""
    roles = np.full(len(labels), "train", dtype=object)
    counts = Counter(labels.tolist())
    small = sorted(c for c, n in counts.items() if n < MIN_STRATIFIED)
    # Positions of each small class in one pass: np.isin and one `labels == label` per class
    # compare object arrays pairwise, seconds for 5,000 classes of 3 texts each.
    members_of: dict[object, list[int]] = {c: [] for c in small}
    for i, label in enumerate(labels.tolist()):
        if label in members_of:
            members_of[label].append(i)
    is_small = np.zeros(len(labels), dtype=bool)
    is_small[[i for members in members_of.values() for i in members]] = True
    big = np.flatnonzero(~is_small)
    holdout = config.val + config.test
    if len(big) >= 2:
        _, rest = _two_way(big, holdout, labels, config.seed, "training/hold-out", notes)
        if config.val > 0 and len(rest) >= 2:
            # Test is the first part so a failed split leaves everything in test, not val.
            test, val = _two_way(
                rest, config.val / holdout, labels, config.seed, "test/validation", notes
            )
            roles[val] = "val"
            roles[test] = "test"
        else:
            roles[rest] = "test"
    rng = np.random.default_rng(config.seed)
    for label in small:
        members = rng.permutation(np.asarray(members_of[label], dtype=np.intp))
        n = len(members)
        n_test = max(1, round(n * config.test)) if n >= 2 else 0
        n_val = max(1, round(n * config.val)) if n >= 3 and config.val > 0 else 0
        roles[members[:n_test]] = "test"
        roles[members[n_test : n_test + n_val]] = "val"
    if small:
        shown = ", ".join(repr(c) for c in small[:10]) + (" ..." if len(small) > 10 else "")
        notes.append(
            f"{len(small)} classes with fewer than {MIN_STRATIFIED} distinct texts were split "
            f"by hand rather than stratified: {shown}"
        )
    return roles


def content_hash(canonical: pd.DataFrame) -> str:
    """SHA-256 hex of the canonical rows in order (text, label, and group/split when present)."""
    columns = [c for c in CANONICAL_COLUMNS if c in canonical.columns]
    values = canonical[columns].astype(object).where(canonical[columns].notna(), "")
    rows = values.astype(str).to_numpy().tolist()
    payload = json.dumps([columns, *rows], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
