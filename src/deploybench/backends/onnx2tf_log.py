"""Why onnx2tf stopped, read from what it printed: it names the ONNX node it failed at, then prints the Python
traceback of the failure below a fixed line, then general advice. Only the node and the exception are kept."""

from __future__ import annotations

import re
import signal

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ABSL_LOG = re.compile(r"^[IWEF]\d{4} ")
"""A line of TensorFlow's C++ logging (absl): `W0000 00:00:...`, never the reason a conversion failed."""
TRACE_MARK = "The trace log is below."
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*(?:Error|Exception|Exit)):\s*(.*)$")
KERAS_WRAPPER = "Exception encountered when calling layer"
"""Keras wraps a layer's failure in this sentence; the reason is the first plain line after it."""


def conversion_failure(log: str, status: int = 1) -> str:
    """What onnx2tf's log says went wrong: the ONNX node it stopped at and the reason (its own first error, else
    the exception of the traceback it printed); when it names none, how the process ended (killed by a signal,
    an exit status) and its last line that is not a library's log."""
    lines = [ANSI.sub("", line).rstrip() for line in log.splitlines()]
    errors = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    node = next((e.partition(":")[2].strip() for e in errors if e.startswith("onnx_op_name:")), None)
    if node is not None:
        node = re.sub(r"^wa/", "/", node)
    reason = next((e for e in errors if e != TRACE_MARK and not e.startswith("onnx_op_name:")), None)
    if reason is None or reason.startswith("input_onnx_file_path:") or reason.startswith("Read this"):
        reason = _traceback_reason(lines) or reason
    if reason:
        return f"at node `{node}`: {reason}" if node else reason
    plain = [line.strip() for line in lines if line.strip() and not ABSL_LOG.match(line.strip())]
    last = plain[-1] if plain else None
    if status < 0:
        ended = f"onnx2tf was killed by signal {-status} ({signal.Signals(-status).name})"
        return f"{ended}; its last line: {last}" if last else ended
    return last or f"onnx2tf stopped without a message (exit status {status})"


def _traceback_reason(lines: list[str]) -> str | None:
    """The last exception line of the printed traceback, unwrapped from Keras's layer-call sentence."""
    found = None
    for index, line in enumerate(lines):
        match = EXCEPTION_LINE.match(line.strip())
        if match:
            found = (index, match.group(1), match.group(2).strip())
    if found is None:
        return None
    index, kind, message = found
    if message.startswith(KERAS_WRAPPER) or not message:
        following = (line.strip() for line in lines[index + 1 :])
        detail = next((line for line in following if line and not line.startswith(("•", "Call arguments"))), "")
        message = detail or message
    return f"{kind}: {message}"
