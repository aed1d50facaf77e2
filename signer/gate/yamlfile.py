"""YAML documents with the line of every key and item (layer L2, no network).

PyYAML's composer gives each node its position; :func:`load_documents` turns the
node tree into plain ``dict``/``list`` subclasses that remember where each key and
item stood, so that a policy error or a discovered image can name ``file:line``.

Hostile input is bounded: the text size, the nesting depth and the number of nodes
are limited, and an alias is converted once and shared (a "billion laughs" document
stays as small as it was written). Every failure is one :class:`YamlError` line.
"""

from __future__ import annotations

from typing import Any

import yaml

from signer.errors import InputError
from signer.localfile import read_local_file

#: largest YAML file read (manifests and policies are far smaller)
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 500_000

#: libyaml's parser when PyYAML was built with it (several times faster), else the pure one
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(InputError):
    """A YAML file that cannot be read or parsed (names the file and line)."""


class YamlMap(dict[str, Any]):
    """A mapping with its own line and the line of each key (1-based)."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The line of ``key`` (the mapping's own line if absent)."""
        return self.key_lines.get(key, self.line)


class YamlList(list[Any]):
    """A sequence with its own line and the line of each item (1-based)."""

    line: int
    item_lines: list[int]

    def entries(self) -> list[tuple[int, Any, int]]:
        """(index, item, line) for every item."""
        return [(i, item, line) for i, (item, line)
                in enumerate(zip(self, self.item_lines, strict=True))]


class _Converter:
    def __init__(self, source: str) -> None:
        self.source = source
        # node id -> (node, value); the node is kept so that its id is not reused
        self.seen: dict[int, tuple[yaml.Node, Any]] = {}
        self.count = 0
        self.scalars = _Loader("")

    def fail(self, node: yaml.Node, problem: str) -> YamlError:
        return YamlError(f"{self.source}:{node.start_mark.line + 1}: {problem}")

    def convert(self, node: yaml.Node, depth: int = 0) -> Any:
        known = self.seen.get(id(node))
        if known is not None:
            return known[1]
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} YAML nodes")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            items = YamlList()
            items.line = node.start_mark.line + 1
            items.item_lines = []
            self.seen[id(node)] = (node, items)
            for child in node.value:
                items.append(self.convert(child, depth + 1))
                items.item_lines.append(child.start_mark.line + 1)
            return items
        try:
            value = self.scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.fail(node, f"bad scalar: {_problem(exc)}") from None
        self.seen[id(node)] = (node, value)
        return value

    def _mapping(self, node: yaml.MappingNode, depth: int) -> YamlMap:
        mapping = YamlMap()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        self.seen[id(node)] = (node, mapping)
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *defaults"
                merged = self.convert(value_node, depth + 1)
                sources = merged if isinstance(merged, list) else [merged]
                for source in sources:
                    if isinstance(source, YamlMap):
                        for key, value in source.items():
                            if key not in mapping:
                                mapping[key] = value
                                mapping.key_lines[key] = source.line_of(key)
                continue
            key = self.convert(key_node, depth + 1)
            if isinstance(key, (dict, list)):
                raise self.fail(key_node, "a mapping key must be a scalar")
            text = "true" if key is True else "false" if key is False else str(key)
            mapping[text] = self.convert(value_node, depth + 1)
            mapping.key_lines[text] = key_node.start_mark.line + 1
        return mapping


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        return str(exc.problem or exc.context or "invalid YAML")
    return "invalid YAML"


def _line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def load_documents(text: str, source: str) -> list[Any]:
    """Every document of a (multi-document) YAML text, with line information.

    ``source`` names the file in errors. Empty documents are dropped.
    """
    if len(text) > MAX_YAML_BYTES:
        raise YamlError(f"{source}: larger than {MAX_YAML_BYTES} bytes")
    converter = _Converter(source)
    documents = []
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is not None:
                documents.append(converter.convert(node))
    except yaml.YAMLError as exc:
        raise YamlError(f"{source}:{_line(exc)}: not valid YAML: {_problem(exc)}") from None
    except RecursionError:
        raise YamlError(f"{source}: nested too deeply") from None
    return documents


def read_text(path: str, limit: int = MAX_YAML_BYTES) -> str:
    """A UTF-8 text file, bounded; one-line errors."""
    data = read_local_file(path, "file", limit=limit, error=YamlError)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise YamlError(f"{path}: not UTF-8 text") from None
