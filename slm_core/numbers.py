"""One reading of "a number or nothing" for figures read from stored JSON and benchmarks."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: Any) -> float | None:
    """The value as a float, or None when it is missing, not a number, NaN or infinite.

    Stored results come back from JSON (where NaN and infinity do not exist) or from older
    versions with other shapes; every reader treats anything that is not a finite number as
    "not measured".
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
