"""The fast path of the commonest event lines: decoded and type-checked in one C pass.

Nearly every line of an agency's history is approved time. For a line of such a type,
msgspec decodes the text straight into a Struct derived from the type's JSON Schema:
unknown keys, missing keys, JSON types, the `const` of `type` and string lengths are all
checked in that one pass, and no dict is built. The patterns are then checked against the
per-pattern memos the compiled validators keep (`event_check.pattern_matcher`), so a
repeated id, date or number of hours costs a set look-up. msgspec could check patterns
itself, but it runs a regular expression for every string, which costs more than all the
rest together.

The fast path only ever answers "here is the event" or "not sure" (None). Any doubt (the
decoder refusing the text, a pattern not matched, a date that does not exist) leaves the
line to the general path: orjson, the validator and the payload parser, which alone word
the errors. So a line gives the same Event, or the same error, either way.

Everything is derived from the schema when the parser is compiled. A schema that uses a
keyword the derivation does not handle, or a shape the event's NamedTuples do not mirror,
gets no fast path (None) rather than a partial check.
"""

from __future__ import annotations

import itertools
import keyword
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urldefrag, urljoin

import msgspec

from engine.model.event_check import ANNOTATION_KEYWORDS, pattern_matcher, pointer_tokens

__all__ = ["FastParser", "compile_fast_parser"]

FastParser = Callable[[str | bytes, str], Any]
"""`parser(text, origin)`: the Event of one NDJSON line (text or UTF-8 bytes), or None
when not sure."""

_STRING_KEYWORDS = frozenset({"type", "const", "enum", "pattern", "minLength", "maxLength"})
_OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})
_ENVELOPE = ("id", "type", "at", "payload")
_REF_DEPTH = 16


class _Unsupported(Exception):
    """The schema says something the fast path does not derive: no fast path then."""


@dataclass(frozen=True)
class _Shape:
    """What one schema node becomes: a msgspec type, and the checks left to Python."""

    kind: Any
    patterns: tuple[str, ...] = ()
    fields: Mapping[str, tuple[_Shape, bool]] | None = None  # objects: name -> (shape, required)
    text: bool = False  # the value is a string


class _Deriver:
    """Turns a schema (its `$ref`s resolved) into msgspec Structs and pattern checks."""

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = documents
        self.names = itertools.count(1)

    def deref(self, ref: str, base: str) -> tuple[Any, str]:
        document_uri, fragment = urldefrag(urljoin(base, ref) if base else ref)
        node = self.documents.get(document_uri)
        if node is None or (fragment and not fragment.startswith("/")):
            raise _Unsupported(f"$ref {ref}")
        for part in pointer_tokens(fragment):
            if not isinstance(node, dict) or part not in node:
                raise _Unsupported(f"$ref {ref}")
            node = node[part]
            if isinstance(node, dict) and "$id" in node:
                raise _Unsupported(f"$ref {ref} into a schema with its own $id")
        return node, document_uri

    def keywords(self, schema: Any, base: str, depth: int = 0) -> tuple[dict[str, Any], str]:
        """The checking keywords of `schema` with its `$ref` merged in, and the base URI of
        its `properties`. Keywords on both sides of a `$ref` must be the same `type`."""
        if not isinstance(schema, dict) or depth > _REF_DEPTH:
            raise _Unsupported("a boolean schema, or $refs nested too deep")
        if isinstance(schema.get("$id"), str):
            base = urljoin(base, schema["$id"])
        found = {key: value for key, value in schema.items()
                 if key not in ANNOTATION_KEYWORDS and not key.startswith("x-")}
        ref = found.pop("$ref", None)
        if ref is None:
            return found, base
        if not isinstance(ref, str):
            raise _Unsupported("$ref")
        target, target_base = self.deref(ref, base)
        inner, inner_base = self.keywords(target, target_base, depth + 1)
        for key, value in found.items():
            if key in inner and not (key == "type" and inner[key] == value):
                raise _Unsupported(f"'{key}' both next to a $ref and in its target")
        return {**inner, **found}, (base if "properties" in found else inner_base)

    def shape(self, schema: Any, base: str) -> _Shape:
        node, base = self.keywords(schema, base)
        kind = node.get("type")
        if kind == "object" or not _OBJECT_KEYWORDS.isdisjoint(node.keys() - {"type"}):
            return self.object_shape(node, base)
        if kind == "boolean" and node.keys() == {"type"}:
            return _Shape(bool)
        if kind in ("string", None) and node.keys() <= _STRING_KEYWORDS:
            return self.string_shape(node)
        raise _Unsupported(f"the keywords {sorted(node)}")

    def string_shape(self, node: dict[str, Any]) -> _Shape:
        patterns = (node["pattern"],) if "pattern" in node else ()
        if not all(isinstance(pattern, str) for pattern in patterns):
            raise _Unsupported("pattern")
        least, most = node.get("minLength"), node.get("maxLength")
        for length in (least, most):
            if length is not None and (type(length) is not int or length < 0):
                raise _Unsupported("minLength or maxLength")
        options = ([node["const"]] if "const" in node else []) + list(node.get("enum", []))
        if "const" in node or "enum" in node:
            # const and enum together mean the options they share; lengths next to them
            # are left to the general path (rare, and Literal takes no Meta).
            if ("const" in node and "enum" in node) or not options or least is not None \
                    or most is not None or not all(isinstance(o, str) for o in options):
                raise _Unsupported("const or enum")
            return _Shape(Literal[tuple(options)], patterns, text=True)
        if node.get("type") != "string":
            raise _Unsupported("a string check without type: string")
        if least is None and most is None:
            return _Shape(str, patterns, text=True)
        return _Shape(Annotated[str, msgspec.Meta(min_length=least, max_length=most)],
                      patterns, text=True)

    def object_shape(self, node: dict[str, Any], base: str) -> _Shape:
        properties = node.get("properties", {})
        required = node.get("required", [])
        if (node.keys() - _OBJECT_KEYWORDS or node.get("type", "object") != "object"
                or node.get("additionalProperties") is not False
                or not isinstance(properties, dict) or not isinstance(required, list)
                or not set(required) <= set(properties)):
            raise _Unsupported("an object that is not closed, or requires unlisted keys")
        fields: dict[str, tuple[_Shape, bool]] = {}
        for name, sub in properties.items():
            if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                raise _Unsupported(f"the key name {name!r}")
            shape = self.shape(sub, base)
            if shape.fields is not None and name not in required:
                raise _Unsupported("an optional object")
            fields[name] = (shape, name in required)
        # An absent optional key is UNSET, so that a JSON null stays a type error. The
        # Structs hold strings, booleans and Structs, never a cycle: the collector can
        # leave them alone (gc=False).
        struct = msgspec.defstruct(
            f"Fast{next(self.names)}",
            [(name, shape.kind) if needed else
             (name, shape.kind | msgspec.UnsetType, msgspec.UNSET)
             for name, (shape, needed) in fields.items()],
            kw_only=True, forbid_unknown_fields=True, gc=False)
        return _Shape(struct, fields=fields)


def compile_fast_parser(event_type: str, schema: Any, documents: Mapping[str, Any], *,
                        event: type, payload: type, at: Callable[[str], Any],
                        convert: Mapping[str, Callable[[str], Any]]) -> FastParser | None:
    """The fast parser of `event_type` lines, or None when its schema cannot have one.

    The Event is built as the general path builds it: `event(id, event_type, at(text),
    payload(...), origin)`, where the payload NamedTuple takes every property of the
    schema's `payload` in its own field order, converted by `convert[name]` (each one a
    memoised conversion; its `known` look-up is tried first), an absent optional property
    as None. `documents` are the schemas a `$ref` can point at, by `$id`.

    A required payload string with a pattern is handed on as the first equal string its
    pattern's memo holds (a conversion can do the same for another string: a memo of the
    identity), so the entries kept in the engine's state share one copy of each value
    that recurs across events, whose hash is computed once.
    """
    try:
        return _compile(event_type, schema, documents, event, payload, at, convert)
    except (_Unsupported, TypeError, ValueError, NameError):
        # Also what msgspec, the pattern translator or the payload's type hints refuse:
        # parsing must not depend on the fast path being buildable.
        return None


def _compile(event_type: str, schema: Any, documents: Mapping[str, Any], event: type,
             payload: type, at: Callable[[str], Any],
             convert: Mapping[str, Callable[[str], Any]]) -> FastParser:
    base = schema.get("$id", "") if isinstance(schema, dict) else ""
    root = _Deriver(documents).shape(schema, base)
    envelope = root.fields or {}
    if (set(envelope) != set(_ENVELOPE) or not all(needed for _, needed in envelope.values())
            or getattr(event, "_fields", ())[:4] != _ENVELOPE
            or envelope["type"][0].kind != Literal[event_type]
            or not envelope["id"][0].text or not envelope["at"][0].text):
        raise _Unsupported("an envelope other than id, type, at and payload")
    body = envelope["payload"][0].fields
    if body is None or set(body) != set(getattr(payload, "_fields", ())) or any(
            shape.fields is not None for shape, _ in body.values()):
        raise _Unsupported("a payload the NamedTuple does not mirror")
    if any(name not in body or not body[name][0].text for name in convert):
        raise _Unsupported("a conversion of a value that is not a payload string")
    hints = typing.get_type_hints(payload)
    if any(not needed and type(None) not in typing.get_args(hints.get(name))
           for name, (_, needed) in body.items()):
        raise _Unsupported("an optional key whose field does not take None")
    source, constants = _source(event_type, envelope, body, payload, at, convert)
    constants.update(decode=msgspec.json.Decoder(root.kind).decode, new=tuple.__new__,
                     Event=event, Payload=payload, UNSET=msgspec.UNSET)
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<fast parser {event_type}>", "exec"), namespace)
    parse: FastParser = namespace["_build"](constants)
    parse.source = source  # type: ignore[attr-defined]
    return parse


def _source(event_type: str, envelope: Mapping[str, tuple[_Shape, bool]],
            body: Mapping[str, tuple[_Shape, bool]], payload: type, at: Callable[[str], Any],
            convert: Mapping[str, Callable[[str], Any]]) -> tuple[str, dict[str, Any]]:
    """The Python source of the parser, and the constants it binds by name."""
    constants: dict[str, Any] = {}
    memos: dict[str, str] = {}  # pattern -> the suffix of its memo and test names
    checks: list[str] = []
    shared: list[str] = []  # the lines that take the memo's copy of a payload string
    value_of: dict[str, str] = {}  # payload key -> the name its (shared) value has

    def memo_of(pattern: str) -> str:
        if pattern not in memos:
            memos[pattern] = str(len(memos) + 1)
            constants["m" + memos[pattern]], constants["t" + memos[pattern]] = (
                pattern_matcher(pattern))
        return memos[pattern]

    def check(value: str, shape: _Shape, needed: bool, key: str | None = None) -> None:
        patterns = list(shape.patterns)
        if key is not None and needed and patterns:
            # The memo's copy stands in for this one (after a match, this is the copy).
            n = memo_of(patterns.pop(0))
            shared.extend([f"    s_{key} = m{n}.get({value})",
                           f"    if s_{key} is None:",
                           f"        if not t{n}({value}):",
                           "            return None",
                           f"        s_{key} = {value}"])
            value_of[key] = f"s_{key}"
        for pattern in patterns:
            n = memo_of(pattern)
            test = f"{value} in m{n} or t{n}({value})"
            checks.append(f"({test})" if needed else f"({value} is UNSET or {test})")

    for name in ("id", "type", "at"):
        check(f"e.{name}", *envelope[name])
    for name, (shape, needed) in body.items():
        check(f"p.{name}", shape, needed, None if name in convert else name)

    lines = ["def parse(text, origin):",
             "    try:",
             "        e = decode(text)",
             "    except ValueError:  # any refusal (msgspec's errors are ValueErrors)",
             "        return None",
             "    p = e.payload"]
    lines += shared
    if checks:
        lines.append("    if not (" + "\n            and ".join(checks) + "):")
        lines.append("        return None")
    lines.append("    try:")
    lines += _conversion("_at", "e.at", at, constants)  # no key of a payload starts with _
    values = []
    for name in payload._fields:  # type: ignore[attr-defined]
        if name in convert:
            conversion = _conversion(name, f"p.{name}", convert[name], constants)
            if body[name][1]:
                lines += conversion
            else:  # an absent optional value is None, unconverted
                lines += [f"        if p.{name} is UNSET:", f"            v_{name} = None",
                          "        else:"] + ["    " + line for line in conversion]
            values.append(f"v_{name}")
        elif name in value_of:
            values.append(value_of[name])
        elif body[name][1]:
            values.append(f"p.{name}")
        else:
            values.append(f"(None if p.{name} is UNSET else p.{name})")
    lines += ["    except (ValueError, ArithmeticError):  # the general path words it",
              "        return None",
              f"    return new(Event, (e.id, {event_type!r}, v__at, new(Payload, (",
              "        " + ", ".join(values) + ")), origin))"]
    head = ["def _build(_K):"] + [f"    {name} = _K[{name!r}]" for name in (
        "decode", "new", "Event", "Payload", "UNSET", *constants)]
    source = "\n".join(head + ["    " + line for line in lines] + ["    return parse"]) + "\n"
    return source, constants


def _conversion(name: str, value: str, convert: Callable[[str], Any],
                constants: dict[str, Any]) -> list[str]:
    """Lines setting `v_<name>` to `convert(value)`, asking a memo's look-up first.

    `is None` rather than `or`: a converted value can be false (Decimal 0).
    """
    constants[f"c_{name}"] = convert
    known = getattr(convert, "known", None)
    if known is None:
        return [f"        v_{name} = c_{name}({value})"]
    constants[f"k_{name}"] = known
    return [f"        v_{name} = k_{name}({value})",
            f"        if v_{name} is None:",
            f"            v_{name} = c_{name}({value})"]
