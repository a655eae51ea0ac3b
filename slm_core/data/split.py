"""Train/validation/test splits that never leak a text across splits, and a stable dataset hash."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from slm_core.data.columns import SPLIT_VALUES
from slm_core.data.types import SplitConfig, Splits
from slm_core.errors import DataError

log = logging.getLogger(__name__)

# Below this many distinct texts a class cannot go through two stratified train_test_split
# calls reliably (the 30% hold-out must again hold at least two of it), so it is split by hand.
MIN_STRATIFIED = 10
CANONICAL_COLUMNS = ("text", "label", "group", "split")


@dataclass(frozen=True)
class CleanRows:
    """Rows fit for training: no empty text or label, no conflicting or duplicate texts."""

    frame: pd.DataFrame  # canonical columns plus "_key", the normalised text
    removed_empty: int
    removed_conflicts: int
    removed_duplicates: int


def text_key(texts: pd.Series) -> pd.Series:
    """Texts as compared for duplicates: case folded (normalize_text already collapsed spaces)."""
    return texts.astype(str).str.casefold()


def split_role(value: str) -> str | None:
    """'train', 'val' or 'test' for a user's split value (case-insensitive), else None."""
    return SPLIT_VALUES.get(str(value).strip().casefold())


def clean_rows(canonical: pd.DataFrame, config: SplitConfig = SplitConfig()) -> CleanRows:  # noqa: B008
    """Drop rows without text or label, then conflicting-label texts and duplicates per config.

    With ``dedupe`` the first row of each (text, label) pair is kept; conflicting texts that are
    kept (``drop_conflicts=False``) keep one row per label and are later kept in one split.
    """
    frame = canonical.reset_index(drop=True)
    keep = (frame["text"] != "") & (frame["label"] != "")
    removed_empty = int((~keep).sum())
    frame = frame[keep].assign(_key=lambda f: text_key(f["text"]))
    removed_conflicts = 0
    if config.drop_conflicts:
        labels_per_key = frame.groupby("_key", sort=False)["label"].nunique()
        conflicted = frame["_key"].isin(labels_per_key.index[labels_per_key > 1])
        removed_conflicts = int(conflicted.sum())
        frame = frame[~conflicted]
    removed_duplicates = 0
    if config.dedupe:
        duplicated = frame.duplicated(["_key", "label"])
        removed_duplicates = int(duplicated.sum())
        frame = frame[~duplicated]
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

    Rows with the same normalised text always land in the same split. A ``split`` column, when
    present, decides each row's split instead (train / val / validation / dev / test).
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


def _two_way(
    units: np.ndarray, share: float, labels: np.ndarray, seed: int, what: str, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """train_test_split stratified by label, else plain, else everything in the first part."""
    from sklearn.model_selection import train_test_split

    try:
        return tuple(
            train_test_split(units, test_size=share, random_state=seed, stratify=labels[units])
        )
    except ValueError:
        pass
    try:
        first, second = train_test_split(units, test_size=share, random_state=seed)
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
    is_small = np.isin(labels, small)
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
        members = rng.permutation(np.flatnonzero(labels == label))
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
