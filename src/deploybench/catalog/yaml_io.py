"""Read YAML catalog files keeping line numbers, so errors can point at the offending line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploybench.core.errors import CatalogError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (ten times faster), else the pure-Python one."""


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data and the node tree that remembers where each value stands."""

    path: Path
    data: Any
    root: yaml.Node

    def line_of(self, loc: Sequence[str | int]) -> int:
        """1-based line of the deepest node found along loc (a pydantic error location)."""
        node: yaml.Node = self.root
        line = node.start_mark.line + 1
        for key in loc:
            found = _child(node, key)
            if found is None:
                break
            key_node, node = found
            line = (key_node or node).start_mark.line + 1
        return line


def read_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file; a syntax error, duplicate key or non-UTF-8 text raises CatalogError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError("is not UTF-8 text", file=str(path), hint="save it as UTF-8") from exc
    except OSError as exc:
        raise CatalogError(f"cannot be read: {exc.strerror}", file=str(path)) from exc
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise CatalogError("is empty", file=str(path), hint="write one mapping of fields")
        _reject_duplicate_keys(root, path)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise CatalogError(f"YAML syntax error: {problem}", file=str(path), line=line) from exc
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, root=root)


def _child(node: yaml.Node, key: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(key):
                return key_node, value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return None, node.value[key]
    return None


def _reject_duplicate_keys(node: yaml.Node, path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise CatalogError(
                    f"duplicate key (first at line {seen[key_node.value]})",
                    file=str(path),
                    line=line,
                    field=str(key_node.value),
                    hint="keep one",
                )
            seen[key_node.value] = line
            _reject_duplicate_keys(value_node, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(item, path)
