"""Read YAML rule files into plain data plus the position of every key.

Parsing happens once, into PyYAML's node graph; from it we build plain Python data
(YAML decimals become exact `Decimal`, dates stay ISO strings, only `true`/`false` are
booleans) and a map from each data path to where it sits in the file. Every later
check reports `path:line:col` through that map, so all errors of a file come at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from engine.errors import RuleError

__all__ = ["Mark", "YamlDocument", "DataPath", "read_yaml_documents", "format_data_path"]

DataPath = tuple[str | int, ...]

# Guard against alias bombs ("billion laughs"): no rule document comes near this.
_MAX_NODES = 250_000


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column in a file, and the scalar style found there."""

    line: int
    col: int
    style: str | None = None


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document of a rule file: its data and where each part of it sits."""

    path: str
    index: int
    data: Any
    start: Mark
    key_marks: dict[DataPath, Mark] = field(repr=False)
    value_marks: dict[DataPath, Mark] = field(repr=False)
    # Paths whose value the reader already reported (a later check need not repeat it).
    reported: frozenset[DataPath] = field(default=frozenset(), repr=False)
    lines: tuple[str, ...] = field(default=(), repr=False)

    def mark(self, data_path: DataPath) -> Mark:
        """Return where `data_path` is written: its key, or a list item's own start.

        Falls back to the closest located parent.
        """
        probe = tuple(data_path)
        while probe:
            found = self.key_marks.get(probe)
            if found is None and isinstance(probe[-1], int):
                found = self.value_marks.get(probe)  # a list item has no key: its start
            if found is not None:
                return found
            probe = probe[:-1]
        return self.start

    def value_mark(self, data_path: DataPath) -> Mark:
        """Return the mark of the value at `data_path` (falls back to its key)."""
        return self.value_marks.get(tuple(data_path)) or self.mark(data_path)

    def error(self, data_path: DataPath, message: str) -> RuleError:
        """Return a RuleError located at the key of `data_path`."""
        at = self.mark(data_path)
        return RuleError(self.path, at.line, at.col, message)


# libyaml's parser when PyYAML was built with it (several times faster); same nodes and marks.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _RuleLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader with YAML 1.2 core scalars: no yes/no booleans, no implicit dates."""


_RuleLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (
        "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RuleLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

_SIMPLE_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}


def format_data_path(data_path: DataPath) -> str:
    """Render a data path the way people read it: `spec.engagements[0].amount`."""
    text = ""
    for part in data_path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _Builder:
    """Turn one composed node graph into plain data, recording marks and problems."""

    def __init__(self, path: str, loader: _RuleLoader) -> None:
        self.path = path
        self.loader = loader
        self.key_marks: dict[DataPath, Mark] = {}
        self.value_marks: dict[DataPath, Mark] = {}
        self.errors: list[RuleError] = []
        self.reported: set[DataPath] = set()
        self.nodes = 0
        self.open_nodes: set[int] = set()

    def _mark(self, node: Node) -> Mark:
        style = getattr(node, "style", None)
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1, style or None)

    def _fail(self, node: Node, message: str) -> None:
        at = self._mark(node)
        self.errors.append(RuleError(self.path, at.line, at.col, message))

    def build(self, node: Node, data_path: DataPath) -> Any:
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise _TooLarge()
        self.value_marks[data_path] = self._mark(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, data_path)
        if id(node) in self.open_nodes:
            self._fail(node, "this alias refers to itself; rule files cannot be recursive")
            return None
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, data_path)
            return [self.build(item, data_path + (i,)) for i, item in enumerate(node.value)]
        finally:
            self.open_nodes.discard(id(node))

    def _mapping(self, node: MappingNode, data_path: DataPath) -> dict[str, Any]:
        try:
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys
        except yaml.MarkedYAMLError as exc:
            self._fail(node, exc.problem or "invalid merge key")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._fail(key_node, "a key must be a plain word, not a list or mapping")
                continue
            key = key_node.value
            child = data_path + (key,)
            if key in result:
                first = self.key_marks[child]
                self._fail(key_node, f"duplicate key '{key}' (first defined at line {first.line})")
                continue
            self.key_marks[child] = self._mark(key_node)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: ScalarNode, data_path: DataPath) -> Any:
        tag = node.tag
        if tag not in _SIMPLE_TAGS:
            self._fail(node, f"unsupported YAML tag '{tag}'")
            return node.value
        if tag == "tag:yaml.org,2002:float":
            value = self._decimal(node, data_path)
            if not isinstance(value, Decimal):
                self.reported.add(data_path)
            return value
        if tag == "tag:yaml.org,2002:str":
            return node.value
        return self.loader.construct_object(node, deep=True)

    def _decimal(self, node: ScalarNode, data_path: DataPath) -> Decimal | str:
        # YAML decimals are read from their text, so `12000.10` never passes through a float.
        text = node.value.replace("_", "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            where = format_data_path(data_path)
            self._fail(node, f"{where + ': ' if where else ''}'{node.value}' is not a finite "
                             "decimal number")
            return node.value
        return value


class _TooLarge(Exception):
    pass


def _decode(path: str, raw: bytes) -> tuple[str | None, RuleError | None]:
    if b"\x00" in raw:
        return None, RuleError(path, 1, 1, "this is a binary file, not a YAML rule file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, RuleError(path, line, 1, "this file is not UTF-8 text")
    return text, None


def read_yaml_documents(path: str, raw: bytes) -> tuple[list[YamlDocument], list[RuleError]]:
    """Parse every document of one file; return the documents and every problem found."""
    text, problem = _decode(path, raw)
    if problem is not None:
        return [], [problem]
    assert text is not None
    loader = _RuleLoader(text)
    text_lines = tuple(text.splitlines())
    documents: list[YamlDocument] = []
    errors: list[RuleError] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")
                                and node.value in ("", "~", "null")):
                continue  # an empty document, e.g. after a trailing `---`
            builder = _Builder(path, loader)
            try:
                data = builder.build(node, ())
            except (_TooLarge, RecursionError):
                errors.append(RuleError(path, node.start_mark.line + 1, node.start_mark.column + 1,
                                        "this document is too large or nested too deeply"))
                break
            errors.extend(builder.errors)
            start = Mark(node.start_mark.line + 1, node.start_mark.column + 1)
            documents.append(YamlDocument(path, index, data, start, builder.key_marks,
                                          builder.value_marks, frozenset(builder.reported),
                                          text_lines))
            index += 1
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own recursion limit
            return documents, errors + [RuleError(path, 1, 1, "this document is too large or "
                                                              "nested too deeply")]
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem_text = exc.problem or str(exc)
        if exc.context:
            opened = exc.context_mark
            where = (f" started at line {opened.line + 1}, column {opened.column + 1}"
                     if opened is not None and opened is not mark else "")
            problem_text = f"{problem_text} ({exc.context}{where})"
        errors.append(RuleError(path, line, col, f"YAML syntax error: {problem_text}"))
    except yaml.YAMLError as exc:
        errors.append(RuleError(path, 1, 1, f"YAML error: {exc}"))
    except RecursionError:
        errors.append(RuleError(path, 1, 1, "this file is nested too deeply to be a rule file"))
    finally:
        loader.dispose()
    if not documents and not errors:
        errors.append(RuleError(path, 1, 1, "this file holds no rule documents"))
    return documents, errors


def read_yaml_file(path: Path, shown_as: str) -> tuple[list[YamlDocument], list[RuleError]]:
    """Read and parse one file from disk, naming it `shown_as` in errors."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [RuleError(shown_as, 1, 1, f"cannot read this file: {exc.strerror}")]
    return read_yaml_documents(shown_as, raw)
