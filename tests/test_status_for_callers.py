"""Status lines without the page's advice (API and MCP callers), and status comparisons without timings."""
from __future__ import annotations

import numpy as np
import pytest

from bench.soak import status_without_timings
from core.status import CLICK_TIP, NONE_TIP, TOKEN_TIP, caller_status, visitor_status
from core.types import Instance, Result


def _result(total_ms: float, found: bool = True, skipped: bool = True) -> Result:
    instances = []
    if found:
        mask = np.zeros((8, 8), bool)
        mask[2:5, 2:5] = True
        instances = [Instance(kind="face", label="face-1", box=(2, 2, 5, 5), score=0.9, mask=mask, landmarks=np.zeros((0, 2)),
                              landmark_kind="face_mesh", handedness=None, backend="landmarks", source="test")]
    return Result(image=np.zeros((8, 8, 3), np.uint8), instances=instances, backend="landmarks",
                  timings={"total": total_ms}, skipped={"replicate": "no token"} if skipped else {})


@pytest.mark.parametrize("found", [True, False])
@pytest.mark.parametrize("skipped", [True, False])
def test_a_caller_without_the_page_gets_no_page_advice(found, skipped):
    page = visitor_status(_result(551, found, skipped), did="")
    status = caller_status(page)
    for tip in (CLICK_TIP, NONE_TIP, TOKEN_TIP):
        assert tip not in status
    assert "click" not in status.lower() and "Settings" not in status
    assert ("replicate_token" in status) == skipped
    assert status.split("\n\n")[0] == page.split("\n\n")[0]  # what was found stays as it was
    assert not status.endswith("\n") and "\n\n\n" not in status


@pytest.mark.parametrize("ms", [0.4, 9, 551, 999.4, 999.6, 1000, 1340, 12_000, 95_000, 1_234_567])
def test_every_timing_visitor_status_writes_is_stripped(ms):
    """bench.soak compares statuses of a lone and a concurrent request; every unit visitor_status can write must go
    ("551 ms", "1.0 s", "12.0 s", "1234.6 s"), so that the comparison never depends on the machine's speed."""
    status = visitor_status(_result(ms))
    assert status_without_timings(status) == status_without_timings(visitor_status(_result(7)))
    assert status_without_timings(caller_status(status)) == status_without_timings(caller_status(visitor_status(
        _result(7))))


@pytest.mark.parametrize("timing", ["551 ms", "1.3 s", "12.0 s", "1,234 ms", "2.5 frames/s", "30 fps", "3 min",
                                    "2 minutes", "4 seconds"])
def test_other_units_are_stripped_too(timing):
    assert status_without_timings(f"**3 faces and 2 hands found** · took {timing}.") == (
        "**3 faces and 2 hands found** · took .")


def test_counts_are_kept():
    assert status_without_timings("12 faces and 3 hands, 2 sam2 masks") == "12 faces and 3 hands, 2 sam2 masks"
