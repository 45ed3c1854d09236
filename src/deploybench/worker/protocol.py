"""The worker's wire format: the job as JSON on stdin; JSON lines on stdout, one event each.

Events: `{"event": "progress", "phase": ...}` while working, then exactly one
`{"event": "result", "record": {...}}` carrying the ResultRecord (also for failures the worker caught).
"""

from __future__ import annotations

import json
from typing import Any

PROGRESS = "progress"
RESULT = "result"


def progress_line(phase: str) -> str:
    """The line announcing that the worker entered a phase."""
    return json.dumps({"event": PROGRESS, "phase": phase})


def result_line(record_json: str) -> str:
    """The line carrying the final record (already serialized by pydantic)."""
    return '{"event": "result", "record": ' + record_json + "}"


def parse_line(line: str) -> dict[str, Any] | None:
    """The event of one stdout line, or None for a line that is not an event."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and event.get("event") in (PROGRESS, RESULT) else None
