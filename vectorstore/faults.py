"""Named crash points, so tests can kill an ingestion at an exact moment of its write.

``CASEBOOK_TEST_CRASH_AT=write_document:3`` makes the process SIGKILL itself the third time it
reaches the point named ``write_document``, exactly as ``kill -9`` would. Unset (always, outside
the crash tests), a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "CASEBOOK_TEST_CRASH_AT"
_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die by SIGKILL here if ``CASEBOOK_TEST_CRASH_AT`` names this point and its count."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
