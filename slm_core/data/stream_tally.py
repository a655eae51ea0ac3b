"""What validation counts, tallied chunk by chunk in bounded memory for a streamed file
(see :mod:`slm_core.data.stream`), and the ``DataReport`` it adds up to: the same findings as
:func:`slm_core.data.validate.validate_canonical` gives for the whole file."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from slm_core.data.split import MIN_STRATIFIED, one_text_key, split_role
from slm_core.data.types import ColumnMapping, DataReport, Detected
from slm_core.data.validate import (
    _CJK_SAMPLE_CHARS,
    LONG_CHARS,
    SHORT_TOKENS,
    _check_classes,
    _check_group_counts,
    _check_labels,
    _check_texts,
    _Findings,
)
from slm_core.text import CJK_RE, script_of, token_unit

_ROLE_CODES = {"train": 0, "val": 1, "test": 2, None: 3}


class _Tally:
    """What validate_canonical measures, accumulated a chunk at a time in bounded memory."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles  # canonical columns: text, label[, group][, split]
        self.rows = 0
        self.empty = 0
        self.unlabelled = 0
        self.classes: Counter[str] = Counter()
        self.groups: Counter[str] = Counter()
        self.missing_groups = 0
        self.split_bad = 0
        self.split_bad_shown: list[str] = []
        self.split_bad_seen: set[int] = set()
        self.split_roles: set[str] = set()
        self.label_ids: dict[str, int] = {}
        self.key_hashes: list[np.ndarray] = []  # per filled row
        self.label_codes: list[np.ndarray] = []  # per filled row, -1 without a label
        self.role_codes: list[np.ndarray] = []  # per filled row
        self.nonspace: list[np.ndarray] = []  # per filled row: characters other than spaces
        self.cjk: list[np.ndarray] = []  # per filled row: CJK characters
        self.total_chars = 0
        self.long = 0
        self.short_word = 0
        self.short_char = 0
        self.dedupe_seen: set[bytes] = set()

    def add(self, columns: dict[str, list[str]], dedupe: bool) -> np.ndarray | None:
        """Count one chunk of canonical columns; with ``dedupe`` returns the rows to keep."""
        texts, labels = columns["text"], columns["label"]
        n = len(texts)
        self.rows += n
        splits = columns.get("split")
        roles = [split_role(v) for v in splits] if splits is not None else None
        keys: list[int] = []
        codes: list[int] = []
        role_codes: list[int] = []
        nonspace: list[int] = []
        cjk: list[int] = []
        keep = np.ones(n, dtype=bool) if dedupe else None
        ids = self.label_ids
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            if label:
                self.classes[label] += 1
                code = ids.setdefault(label, len(ids))
            else:
                self.unlabelled += 1
                code = -1
            if not text:
                self.empty += 1
                continue
            key = one_text_key(text).encode("utf-8", "surrogatepass")
            digest = hashlib.blake2b(key, digest_size=8).digest()
            keys.append(int.from_bytes(digest, "little"))
            codes.append(code)
            role = _ROLE_CODES[roles[i]] if roles is not None else 0
            role_codes.append(role)
            length = len(text)
            spaces = text.count(" ")
            nonspace.append(length - spaces)
            cjk.append(0 if text.isascii() else len(CJK_RE.findall(text)))
            self.total_chars += length
            if length > LONG_CHARS:
                self.long += 1
            if len(text.split()) < SHORT_TOKENS:
                self.short_word += 1
                if length < 2 * SHORT_TOKENS and length - spaces < SHORT_TOKENS:
                    self.short_char += 1
            if keep is not None and code >= 0:
                # clean_rows keeps the first row of each (text key, label, split) among rows
                # with a text and a label; this keeps the same first rows.
                row_id = digest + code.to_bytes(4, "little") + bytes((role,))
                if row_id in self.dedupe_seen:
                    keep[i] = False
                else:
                    self.dedupe_seen.add(row_id)
        self.key_hashes.append(np.array(keys, dtype=np.uint64))
        self.label_codes.append(np.array(codes, dtype=np.int32))
        self.role_codes.append(np.array(role_codes, dtype=np.int8))
        self.nonspace.append(np.array(nonspace, dtype=np.int32))
        self.cjk.append(np.array(cjk, dtype=np.int32))
        if "group" in columns:
            for group in columns["group"]:
                if group:
                    self.groups[group] += 1
                else:
                    self.missing_groups += 1
        if roles is not None:
            for value, role in zip(splits, roles, strict=True):
                if role is None:
                    self.split_bad += 1
                    if len(self.split_bad_shown) < 6 and value not in self.split_bad_shown:
                        self.split_bad_shown.append(value)
                    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8)
                    self.split_bad_seen.add(int.from_bytes(digest.digest(), "little"))
                else:
                    self.split_roles.add(role)
        return keep

    def report(self, mapping: ColumnMapping, detected: Detected) -> DataReport:
        """The DataReport validate_canonical gives for the same rows."""
        found = _Findings()
        rows = self.rows
        classes = {
            str(k): int(v) for k, v in sorted(self.classes.items(), key=lambda kv: (-kv[1], kv[0]))
        }
        imbalance = max(classes.values()) / min(classes.values()) if classes else 0.0
        keys = np.concatenate(self.key_hashes) if self.key_hashes else np.zeros(0, np.uint64)
        codes = np.concatenate(self.label_codes) if self.label_codes else np.zeros(0, np.int32)
        role_codes = np.concatenate(self.role_codes) if self.role_codes else np.zeros(0, np.int8)
        filled = len(keys)
        duplicates = filled - len(np.unique(keys))
        conflicted, distinct_codes = _conflicts_and_distinct(keys, codes, role_codes)
        distinct_counts = np.bincount(distinct_codes, minlength=len(self.label_ids))
        names = {code: label for label, code in self.label_ids.items()}
        distinct = {c: 0 for c in classes}
        for code, count in enumerate(distinct_counts.tolist()):
            if names.get(code) in distinct:
                distinct[names[code]] = int(count)
        tiny = sorted(
            (c for c, n in distinct.items() if n < MIN_STRATIFIED), key=lambda c: distinct[c]
        )
        # validate's _cjk_share: every step-th filled text, step from the total length.
        step = max(1, self.total_chars // _CJK_SAMPLE_CHARS)
        nonspace = np.concatenate(self.nonspace)[::step] if self.nonspace else np.zeros(0)
        cjk = np.concatenate(self.cjk)[::step] if self.cjk else np.zeros(0)
        total = int(nonspace.sum())
        share = int(cjk.sum()) / total if total else 0.0
        script = script_of(share)
        unit = token_unit(script)
        short = self.short_word if unit == "word" else self.short_char
        groups = {
            str(k): int(v) for k, v in sorted(self.groups.items(), key=lambda kv: (-kv[1], kv[0]))
        }

        _check_texts(found, rows, self.empty, mapping.text)
        _check_labels(found, rows, self.unlabelled, mapping.label)
        _check_classes(found, classes, distinct, tiny, imbalance, mapping.label)
        if "split" in self.roles:
            self._check_split(found)
        for code, n, values in (
            ("duplicates", duplicates, {}),
            ("conflicts", conflicted, {}),
            ("short_texts", short, {"tokens": str(SHORT_TOKENS)}),
            ("long_texts", self.long, {"chars": f"{LONG_CHARS:,}"}),
        ):
            if n:
                key = f"errors.problem.{code}_{unit}" if code == "short_texts" else None
                found.add(code, key, count=f"{n:,}", **values)
        if "group" in self.roles:
            _check_group_counts(found, groups, self.missing_groups)
        return DataReport(
            rows=rows,
            mapping=mapping,
            detected=detected,
            classes=classes,
            imbalance_ratio=float(imbalance),
            empty_texts=self.empty,
            duplicate_rows=int(duplicates),
            conflicting_texts=int(conflicted),
            short_texts=short,
            long_texts=self.long,
            cjk_share=float(share),
            script=script,
            token_unit=unit,
            mean_length=self.total_chars / filled if filled else 0.0,
            tiny_classes=tuple(tiny),
            errors=tuple(found.errors),
            warnings=tuple(found.warnings),
            groups=groups,
        )

    def _check_split(self, found: _Findings) -> None:
        if self.split_bad:
            shown = self.split_bad_shown[:5]
            distinct = len(self.split_bad_seen)
            text = ", ".join(f"'{v}'" for v in shown)
            if distinct > 5:
                text += f", … (+{distinct - 5:,})"
            found.add("bad_split_values", count=f"{self.split_bad:,}", shown=text)
            return
        missing = [r for r in ("train", "test") if r not in self.split_roles]
        if missing:
            found.add("split_missing_part", parts=" / ".join(missing))


def _conflicts_and_distinct(
    keys: np.ndarray, codes: np.ndarray, roles: np.ndarray
) -> tuple[int, np.ndarray]:
    """Texts seen with several labels, and the label code of every row clean_rows would keep.

    clean_rows drops rows without a label, then every row of a conflicting text, then repeats
    of (text, label, split): the label of each remaining row, once per (text, split).
    """
    usable = codes >= 0
    keys, codes, roles = keys[usable], codes[usable], roles[usable]
    if not len(keys):
        return 0, np.zeros(0, dtype=np.int64)
    order = np.lexsort((codes, keys))
    k, c = keys[order], codes[order]
    new_pair = np.ones(len(k), dtype=bool)
    new_pair[1:] = (k[1:] != k[:-1]) | (c[1:] != c[:-1])
    pair_keys = k[new_pair]
    repeated = pair_keys[1:][pair_keys[1:] == pair_keys[:-1]]
    conflicted_keys = np.unique(repeated)
    kept = ~np.isin(keys, conflicted_keys)
    keys, codes, roles = keys[kept], codes[kept], roles[kept]
    order = np.lexsort((roles, keys))
    k, r = keys[order], roles[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = (k[1:] != k[:-1]) | (r[1:] != r[:-1])
    return len(conflicted_keys), codes[order][first].astype(np.int64)
