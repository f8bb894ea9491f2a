"""The worker process's CPU priority: below the API's, where both share a machine."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def lower_cpu_priority(increment: int) -> int:
    """Add `increment` to this process's niceness (the kernel caps it at 19); the threads and
    processes it starts later inherit it. Returns the niceness now."""
    now = os.nice(increment) if increment > 0 else os.nice(0)
    log.info("CPU niceness %d (QA_WORKER_NICE %d)", now, increment)
    return now
