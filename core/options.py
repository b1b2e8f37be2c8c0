"""Check the caller's options before any work: each bad value is a ValueError with one sentence.

Gradio checks a slider's range but not NaN (every comparison with NaN is false), and the HTTP API, the CLI and
Python callers can send anything; so `segment()`, the app and the CLI all check here. NaN used to be accepted as a
confidence (and changed the results) and crashed `int()` for counts ("cannot convert float NaN to integer").
"""
from __future__ import annotations

import math
import numbers

# Ranges: confidence is a probability; counts are bounded by what the app can label and colour (core.render);
# the box scale multiplies a face's or hand's box (1 = tight; 4 already covers a whole portrait).
RANGES = {
    "min_confidence": (0.0, 1.0, False),
    "max_hands": (1, 24, True),
    "max_faces": (1, 40, True),
    "box_scale": (1.0, 4.0, False),
}


def check_options(**values) -> dict:
    """Return the options as plain numbers (counts as int) or raise ValueError naming the first bad one.

    Only the names in RANGES are checked; None means "not given" and is passed through."""
    out = {}
    for name, value in values.items():
        if name not in RANGES or value is None:
            out[name] = value
            continue
        lo, hi, whole = RANGES[name]
        what = f"a whole number from {lo} to {hi}" if whole else f"a number from {lo:g} to {hi:g}"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be {what} (got {_show(value)}).")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{name} must be {what} (got {_show(value)}).")
        if not lo <= number <= hi or (whole and number != int(number)):
            raise ValueError(f"{name} must be {what} (got {_show(value)}).")
        out[name] = int(number) if whole else number
    return out


def _show(value) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
