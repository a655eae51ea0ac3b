"""Check a mapped table before training: what is in it, and what blocks or weakens training."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

from slm_core.data.cells import cell_to_str
from slm_core.data.split import MIN_STRATIFIED, clean_rows, split_role, text_key
from slm_core.data.types import ColumnMapping, DataReport, Detected, Problem, Severity
from slm_core.errors import DataError, render
from slm_core.text import cjk_share, normalize_text, script_of, token_count, token_unit

SHORT_TOKENS = 3  # fewer tokens than this is "very short"
LONG_CHARS = 5_000  # more characters than this is "very long"
IMBALANCE_WARN = 10.0
MOSTLY_EMPTY = 0.5
MIN_CLASS = 3  # distinct texts a class needs for one example in each of train/val/test
TINY_GROUP = 20  # rows; a smaller group gets only ~3 test rows at 15%, too few to compare
_CJK_SAMPLE_CHARS = 300_000

# Every problem validation can report: code -> (severity, short title). Messages are English
# sentences with the numbers filled in; the UI can translate by code.
PROBLEM_CODES: dict[str, tuple[Severity, str]] = {
    "missing_text_column": ("error", "Text column not found"),
    "missing_label_column": ("error", "Label column not found"),
    "missing_column": ("error", "Mapped column not found"),
    "same_column": ("error", "Text and label are the same column"),
    "no_rows": ("error", "No rows"),
    "all_texts_empty": ("error", "All texts are empty"),
    "mostly_empty": ("error", "Most texts are empty"),
    "labels_empty": ("error", "All labels are empty"),
    "one_class": ("error", "Only one class"),
    "single_example_class": ("error", "Class with a single example"),
    "class_too_small": ("error", "Class too small to split"),
    "bad_split_values": ("error", "Unknown split values"),
    "split_missing_part": ("error", "Split column lacks train or test rows"),
    "empty_texts": ("warning", "Empty texts"),
    "empty_labels": ("warning", "Rows without a label"),
    "imbalanced": ("warning", "Classes are imbalanced"),
    "duplicates": ("warning", "Duplicate texts"),
    "conflicts": ("warning", "Texts with conflicting labels"),
    "short_texts": ("warning", "Very short texts"),
    "long_texts": ("warning", "Very long texts"),
    "tiny_classes": ("warning", "Small classes"),
    "tiny_groups": ("warning", "Small groups"),
    "missing_groups": ("warning", "Rows without a group"),
}

_INTEGRAL_RE = re.compile(r"[+-]?\d+\.0+")


class _Findings:
    """Collects problems; the severity comes from PROBLEM_CODES so it cannot drift."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, code: str, key: str | None = None, /, **values: str) -> None:
        # The message is a catalogue sentence (errors.problem.<code> unless one code has
        # several wordings); the key and values let the interface show it in its language.
        severity = PROBLEM_CODES[code][0]
        key = key or f"errors.problem.{code}"
        problem = Problem(
            code=code,
            severity=severity,
            message=render(key, "en", **values),
            key=key,
            values=tuple((name, str(value)) for name, value in values.items()),
        )
        (self.errors if severity == "error" else self.warnings).append(problem)


def _names(values: list[str], limit: int = 5) -> str:
    # "… (+3)" rather than "and 3 more": the list is quoted inside sentences of either language.
    shown = ", ".join(f"'{v}'" for v in values[:limit])
    return shown + (f", … (+{len(values) - limit:,})" if len(values) > limit else "")


def _label(value: object) -> str:
    text = normalize_text(cell_to_str(value))
    # Excel and pandas turn the label 1 into 1.0; both must be the same class.
    return text.split(".")[0] if _INTEGRAL_RE.fullmatch(text) else text


def _check_mapping(frame: pd.DataFrame, mapping: ColumnMapping, found: _Findings) -> None:
    columns = list(frame.columns)
    choose = ", ".join(str(c) for c in columns)
    if mapping.text not in columns:
        found.add("missing_text_column", text=mapping.text, choose=choose)
    if mapping.label not in columns:
        found.add(
            "missing_label_column",
            label=mapping.label,
            choose=choose,
        )
    for role, column in (("group", mapping.group), ("split", mapping.split)):
        if column is not None and column not in columns:
            found.add(
                "missing_column",
                f"errors.problem.missing_{role}_column",
                column=column,
                choose=choose,
            )
    if not found.errors and mapping.text == mapping.label:
        found.add(
            "same_column",
            text=mapping.text,
        )


def canonical_frame(frame: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """The mapped columns renamed to text, label (+ group, split), normalised, as strings.

    Texts go through ``normalize_text``; labels too, and integral numbers lose a ".0" so 1 and
    1.0 are one class. Raises ``DataError`` when a mapped column is missing.
    """
    found = _Findings()
    _check_mapping(frame, mapping, found)
    if found.errors:
        first = found.errors[0]
        raise DataError(first.key, **dict(first.values))
    out = {
        "text": [normalize_text(cell_to_str(v)) for v in frame[mapping.text].tolist()],
        "label": [_label(v) for v in frame[mapping.label].tolist()],
    }
    for role, column in (("group", mapping.group), ("split", mapping.split)):
        if column is not None:
            out[role] = [normalize_text(cell_to_str(v)) for v in frame[column].tolist()]
    return pd.DataFrame(out, columns=list(out), dtype=str)


def _cjk_share(texts: list[str]) -> float:
    """CJK share over an evenly spaced sample of texts (the exact count is slow on big files)."""
    total = sum(len(t) for t in texts)
    step = max(1, total // _CJK_SAMPLE_CHARS)
    return cjk_share(texts[::step])


def _counts(values: pd.Series) -> dict[str, int]:
    """Value counts, largest first, ties by name (value_counts leaves ties unordered)."""
    counts = values.value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def validate(frame: pd.DataFrame, mapping: ColumnMapping, detected: Detected) -> DataReport:
    """Measure the mapped table and list the errors (block training) and warnings it has."""
    return validate_canonical(frame, mapping, detected)[0]


def validate_canonical(
    frame: pd.DataFrame, mapping: ColumnMapping, detected: Detected
) -> tuple[DataReport, pd.DataFrame | None]:
    """:func:`validate`'s report and the :func:`canonical_frame` it measured (None when the
    mapping does not fit the table), so a caller that needs both builds the frame once."""
    found = _Findings()
    _check_mapping(frame, mapping, found)
    if found.errors:
        report = DataReport(
            rows=len(frame), mapping=mapping, detected=detected, classes={},
            imbalance_ratio=0.0, empty_texts=0, duplicate_rows=0, conflicting_texts=0,
            short_texts=0, long_texts=0, cjk_share=0.0, script="latin", token_unit="word",
            mean_length=0.0, tiny_classes=(), errors=tuple(found.errors),
        )  # fmt: skip
        return report, None
    canon = canonical_frame(frame, mapping)
    rows = len(canon)
    filled = canon["text"] != ""
    labelled = canon["label"] != ""
    classes = _counts(canon.loc[labelled, "label"])
    imbalance = max(classes.values()) / min(classes.values()) if classes else 0.0

    keys = text_key(canon["text"])  # once: keying long texts is the slow part of validation
    duplicates = int(keys[filled].duplicated().sum())
    usable = filled & labelled
    per_key = canon.loc[usable, "label"].groupby(keys[usable]).nunique()
    conflicts = int((per_key > 1).sum())

    texts = canon.loc[filled, "text"].tolist()
    share = _cjk_share(texts)
    script = script_of(share)
    unit = token_unit(script)
    # Normalised texts have single spaces, so under 3 characters means under 6 in all.
    short = sum(
        1
        for t in texts
        if (unit == "word" or len(t) < 2 * SHORT_TOKENS) and token_count(t, unit) < SHORT_TOKENS
    )
    lengths = canon.loc[filled, "text"].str.len()
    long_texts = int((lengths > LONG_CHARS).sum())

    # Class sizes as make_splits will see them with its defaults (dedupe, drop conflicts).
    kept = clean_rows(canon, keys=keys).frame["label"].value_counts().to_dict()
    distinct = {c: int(kept.get(c, 0)) for c in classes}
    tiny = sorted((c for c, n in distinct.items() if n < MIN_STRATIFIED), key=lambda c: distinct[c])
    groups = _counts(canon.loc[canon["group"] != "", "group"]) if "group" in canon else {}

    _check_texts(found, rows, int((~filled).sum()), mapping.text)
    _check_labels(found, rows, int((~labelled).sum()), mapping.label)
    _check_classes(found, classes, distinct, tiny, imbalance, mapping.label)
    if "split" in canon:
        _check_split(found, canon["split"])
    for code, n, values in (
        ("duplicates", duplicates, {}),
        ("conflicts", conflicts, {}),
        ("short_texts", short, {"tokens": str(SHORT_TOKENS)}),
        ("long_texts", long_texts, {"chars": f"{LONG_CHARS:,}"}),
    ):
        if n:
            key = f"errors.problem.{code}_{unit}" if code == "short_texts" else None
            found.add(code, key, count=f"{n:,}", **values)
    if "group" in canon:
        _check_groups(found, canon["group"], groups)

    report = DataReport(
        rows=rows,
        mapping=mapping,
        detected=detected,
        classes=classes,
        imbalance_ratio=float(imbalance),
        empty_texts=int((~filled).sum()),
        duplicate_rows=duplicates,
        conflicting_texts=conflicts,
        short_texts=short,
        long_texts=long_texts,
        cjk_share=float(share),
        script=script,
        token_unit=unit,
        mean_length=float(lengths.mean()) if len(lengths) else 0.0,
        tiny_classes=tuple(tiny),
        errors=tuple(found.errors),
        warnings=tuple(found.warnings),
        groups=groups,
    )
    return report, canon


def _check_texts(found: _Findings, rows: int, empty: int, column: str) -> None:
    if rows == 0:
        found.add("no_rows")
    elif empty == rows:
        found.add(
            "all_texts_empty",
            column=column,
        )
    elif empty > MOSTLY_EMPTY * rows:
        found.add(
            "mostly_empty",
            empty=f"{empty:,}",
            rows=f"{rows:,}",
            share=f"{empty / rows:.0%}",
            column=column,
        )
    elif empty:
        found.add("empty_texts", empty=f"{empty:,}")


def _check_labels(found: _Findings, rows: int, unlabelled: int, column: str) -> None:
    if rows and unlabelled == rows:
        found.add(
            "labels_empty",
            column=column,
        )
    elif unlabelled:
        found.add(
            "empty_labels",
            unlabelled=f"{unlabelled:,}",
            column=column,
        )


def _check_classes(
    found: _Findings,
    classes: dict[str, int],
    distinct: dict[str, int],
    tiny: list[str],
    imbalance: float,
    column: str,
) -> None:
    if len(classes) == 1:
        only = next(iter(classes))
        found.add(
            "one_class",
            only=only,
            column=column,
        )
        return
    if not classes:
        return
    single = [c for c, n in classes.items() if n == 1]
    if single:
        found.add(
            "single_example_class",
            count=f"{len(single):,}",
            names=_names(single),
            min_class=MIN_CLASS,
        )
    too_small = [
        f"{c} ({distinct[c]})" for c in tiny if distinct[c] < MIN_CLASS and c not in single
    ]
    if too_small:
        found.add(
            "class_too_small",
            count=f"{len(too_small):,}",
            min_class=MIN_CLASS,
            names=_names(too_small),
        )
    small = [f"{c} ({distinct[c]})" for c in tiny if distinct[c] >= MIN_CLASS]
    if small:
        found.add(
            "tiny_classes",
            count=f"{len(small):,}",
            min_stratified=MIN_STRATIFIED,
            names=_names(small),
        )
    if imbalance > IMBALANCE_WARN:
        largest, smallest = next(iter(classes)), list(classes)[-1]
        found.add(
            "imbalanced",
            largest=largest,
            imbalance=f"{imbalance:.0f}",
            smallest=smallest,
        )


def _check_split(found: _Findings, values: pd.Series) -> None:
    roles = values.map(split_role)
    bad = values[roles.isna()]
    if len(bad):
        shown = _names(list(dict.fromkeys(bad.tolist())))
        found.add(
            "bad_split_values",
            count=f"{len(bad):,}",
            shown=shown,
        )
        return
    missing = [r for r in ("train", "test") if not (roles == r).any()]
    if missing:
        found.add(
            "split_missing_part",
            parts=" / ".join(missing),
        )


def _check_groups(found: _Findings, values: pd.Series, groups: dict[str, int]) -> None:
    _check_group_counts(found, groups, int((values == "").sum()))


def _check_group_counts(found: _Findings, groups: dict[str, int], missing: int) -> None:
    """Findings on the group column from its counts (the streamed reader has only those)."""
    tiny = [g for g, n in groups.items() if n < TINY_GROUP]
    if tiny:
        found.add(
            "tiny_groups",
            count=f"{len(tiny):,}",
            tiny_group=TINY_GROUP,
            names=_names(tiny),
        )
    if missing:
        found.add(
            "missing_groups",
            missing=f"{missing:,}",
        )


def _display_width(text: str) -> int:
    """Terminal columns: Chinese characters take two, so the class table stays aligned."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_report(report: DataReport) -> str:
    """A compact plain-text summary for the CLI."""
    d = report.detected
    detected = [d.format]
    if d.encoding:
        detected.append(f"encoding {d.encoding}")
    if d.delimiter is not None:
        detected.append("delimiter " + {"\t": "TAB"}.get(d.delimiter, repr(d.delimiter)))
    if d.format not in ("json", "jsonl", "parquet", "folder"):
        detected.append(f"header {'yes' if d.header else 'no'}")
    if d.sheet:
        detected.append(f"sheet '{d.sheet}' of {len(d.sheets)}")
    m = report.mapping
    mapped = f"text='{m.text}'  label='{m.label}'"
    mapped += f"  group='{m.group}'" if m.group else ""
    mapped += f"  split='{m.split}'" if m.split else ""
    lines = [
        f"{'Rows':<12}{report.rows:,}",
        f"{'Detected':<12}{' · '.join(detected)}",
        f"{'Columns':<12}{mapped}",
        f"{'Script':<12}{report.script} (CJK {report.cjk_share:.1%}) · tokenise by "
        f"{report.token_unit} · mean length {report.mean_length:,.0f} chars",
        f"{'Classes':<12}{len(report.classes):,} (imbalance {report.imbalance_ratio:.1f}x)",
    ]
    total = sum(report.classes.values()) or 1
    width = max((_display_width(c) for c in report.classes), default=0)
    shown = list(report.classes.items())
    for name, n in shown[:30]:
        pad = " " * (width - _display_width(name))
        lines.append(f"  {name}{pad}  {n:>9,}  {n / total:6.1%}")
    if len(shown) > 30:
        lines.append(f"  ... and {len(shown) - 30:,} more classes")
    lines.append(
        f"{'Quality':<12}duplicates {report.duplicate_rows:,} · conflicting texts "
        f"{report.conflicting_texts:,} · empty {report.empty_texts:,} · short "
        f"{report.short_texts:,} · long {report.long_texts:,}"
    )
    if report.groups:
        groups = list(report.groups.items())
        lines.append(f"{'Groups':<12}" + ", ".join(f"{g} {n:,}" for g, n in groups[:10]))
    lines += [f"{'Note':<12}{note}" for note in d.notes]
    lines += [f"{'ERROR':<12}[{p.code}] {p.message}" for p in report.errors]
    lines += [f"{'warning':<12}[{p.code}] {p.message}" for p in report.warnings]
    lines.append(f"{'Trainable':<12}{'yes' if report.trainable else 'no'}")
    return "\n".join(lines)
