"""Read an ONNX file without its weights' values: the analysis needs every tensor's shape and type, not the
megabytes of its data.

`onnx.load` reads the whole file into memory and parses it into a second copy. Here the protobuf wire format is
walked, by small positioned reads, down to the graph's initializers only (ModelProto field 7 -> GraphProto
field 5 -> TensorProto): each initializer larger than a few kilobytes is copied without its data fields, and
everything else verbatim, into a buffer that protobuf then parses. The weights' bytes are never read (a memory
map would not do: the kernel maps whole large folios of the page cache around each header it touches).
No library reads ONNX lazily like this; the walk is the wire format's four wire types and nothing more.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deploybench.core.errors import BackendError

MODEL_GRAPH = 7
GRAPH_INITIALIZER = 5
TENSOR_NAME = 8
TENSOR_DATA_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})
"""float_data, int32_data, string_data, int64_data, raw_data, double_data, uint64_data."""
LARGE = 4096
"""Initializers of more bytes than this are read without their values (shape tensors stay whole)."""
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
WINDOW = 64 * 1024
"""Bytes read at once around a position the walk looks at."""


def read_without_weights(path: Path) -> tuple[Any, frozenset[str]]:
    """The model at path with the values of its large initializers left out, and the names of those."""
    import onnx
    from google.protobuf.message import DecodeError

    if not path.is_file():
        raise BackendError(f"{path}: no such model file", hint="give the path of an .onnx file")
    stripped: set[str] = set()
    try:
        with path.open("rb") as handle:
            data = _Reader(handle.fileno(), path.stat().st_size)
            buffer = _rewrite(data, 0, len(data), MODEL_GRAPH, lambda a, b: _graph(data, a, b, stripped))
        model = onnx.ModelProto()
        model.ParseFromString(buffer)
    except (ValueError, OSError, DecodeError) as exc:
        raise BackendError(
            f"{path}: not a readable ONNX model ({exc})", hint="check that the file is a whole, uncorrupted .onnx file"
        ) from exc
    if not model.graph.node and not model.graph.output:
        raise BackendError(f"{path}: not an ONNX model (no graph)", hint="give an .onnx file exported by a converter")
    return model, frozenset(stripped)


class _Reader:
    """The bytes of an open file, read by windows at the positions asked (`data[i]`, `data[a:b]`)."""

    def __init__(self, descriptor: int, size: int) -> None:
        self._descriptor, self._size = descriptor, size
        self._start, self._window = 0, b""

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            wanted = key.stop - key.start
            read = os.pread(self._descriptor, wanted, key.start)
            if len(read) != wanted:
                raise ValueError(f"the file ends at byte {key.start + len(read)}, inside a field")
            return read
        if not self._start <= key < self._start + len(self._window):
            self._start, self._window = key, os.pread(self._descriptor, WINDOW, key)
            if not self._window:
                raise ValueError(f"the file ends at byte {key}")
        return self._window[key - self._start]


def _graph(data: Any, begin: int, finish: int, stripped: set[str]) -> bytes:
    return _rewrite(data, begin, finish, GRAPH_INITIALIZER, lambda a, b: _tensor(data, a, b, stripped))


def _tensor(data: Any, begin: int, finish: int, stripped: set[str]) -> bytes:
    """The TensorProto at data[begin:finish], without its values if it is large."""
    if finish - begin <= LARGE:
        return bytes(data[begin:finish])
    kept = bytearray()
    for number, _, start, value_start, end in _fields(data, begin, finish):
        if number in TENSOR_DATA_FIELDS:
            continue
        if number == TENSOR_NAME:
            stripped.add(bytes(data[value_start:end]).decode("utf-8", errors="replace"))
        kept += data[start:end]
    return bytes(kept)


def _rewrite(data: Any, begin: int, finish: int, target: int, change: Any) -> bytes:
    """The message at data[begin:finish] with each length-delimited field `target` replaced by
    change(value start, value end)."""
    out = bytearray()
    for number, wire_type, start, value_start, end in _fields(data, begin, finish):
        if number == target and wire_type == LENGTH_DELIMITED:
            value = change(value_start, end)
            out += _varint_bytes((number << 3) | LENGTH_DELIMITED) + _varint_bytes(len(value)) + value
        else:
            out += data[start:end]
    return bytes(out)


def _fields(data: Any, position: int, finish: int) -> Any:
    """(field number, wire type, start of the field, start of its value, end) of each field in data[position:finish]."""
    while position < finish:
        start = position
        key, position = _varint(data, position, finish)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            _, end = _varint(data, position, finish)
            value_start = position
        elif wire_type == LENGTH_DELIMITED:
            length, value_start = _varint(data, position, finish)
            end = value_start + length
        elif wire_type in (FIXED64, FIXED32):
            value_start, end = position, position + (8 if wire_type == FIXED64 else 4)
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type} at byte {start}")
        if end > finish or number == 0:
            raise ValueError(f"truncated or corrupt protobuf field at byte {start}")
        yield number, wire_type, start, value_start, end
        position = end


def _varint(data: Any, position: int, finish: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= finish or shift > 63:
            raise ValueError(f"truncated or corrupt varint at byte {position}")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
