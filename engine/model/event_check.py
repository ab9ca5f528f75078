"""Event validation: the event JSON Schemas compiled into lean Python, once.

A year of agency history is millions of events, and each one is checked against the
schema of its type before it is parsed. An interpreting validator spends tens of
microseconds per event; here each schema is turned into the source of one Python
function (every `$ref` resolved and inlined at compile time), which is `exec`-ed once.

The generated function returns None for a valid instance. Its happy path is nothing
but `isinstance` checks, `len`, set and dict membership, comparisons and calls of
precompiled regular expressions bound to local names. A string that matched a pattern
is remembered in a bounded memo per pattern (client ids, people, dates and hours repeat
across events), so the next time a look-up stands in for the regex. No string is
formatted until a check has failed; then the generated code hands the failing schema
node, the data path and the value to `_explain`, which works out the one problem in
words, for example `payload.hours: '1,5' is not a non-negative decimal string such as
"7.5"`.

Only the keywords the event schemas use are supported (`SUPPORTED_KEYWORDS`); any other
keyword is a compile-time error, so a schema change can never silently skip a check.
Regular expressions follow ECMA-262 as JSON Schema requires: `$` is the end of the
string (Python's `$` also matches before a final newline), `\\d` and `\\w` are ASCII,
`\\s` is the ECMA set of white space, and `.` stops at every line terminator. A pattern
is a search unless it anchors itself.
"""

from __future__ import annotations

import difflib
import itertools
import json
import numbers
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

__all__ = [
    "ANNOTATION_KEYWORDS",
    "MEMO_LIMIT",
    "SUPPORTED_KEYWORDS",
    "SchemaCompileError",
    "Validator",
    "clear_pattern_memos",
    "compile_validator",
    "ecma_pattern",
    "load_event_validators",
    "pattern_matcher",
    "pointer_tokens",
    "schema_documents",
]

Validator = Callable[[Any], "str | None"]

SUPPORTED_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "const", "enum", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "items", "minItems", "maxItems", "uniqueItems", "allOf", "if", "then", "else", "not",
    "dependentRequired", "$ref",
})
"""Keywords that are checked, exactly as Draft 2020-12 defines them."""

ANNOTATION_KEYWORDS = frozenset({
    "$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly",
})
"""Keywords that never affect validity; keys starting with `x-` are annotations too."""

_JSON_TYPES = ("string", "object", "array", "boolean", "null", "integer", "number")
_DEFAULT_SCHEMA_ROOT = Path(__file__).resolve().parents[2] / "schemas"


class SchemaCompileError(ValueError):
    """A schema uses something this compiler does not support, or is malformed."""


# ------------------------------------------------------------------ ECMA-262 patterns

_ECMA_SPACE = ("\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029"
               "\\u202f\\u205f\\u3000\\ufeff")
_CLASS_OF = {"d": "0-9", "w": "A-Za-z0-9_", "s": _ECMA_SPACE}
_DOT = "[^\\n\\r\\u2028\\u2029]"
_QUANTIFIER = re.compile(r"\{[0-9]+(,[0-9]*)?\}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape at pattern[i] (a backslash); return (python text, next index)."""
    if i + 1 >= len(pattern):
        raise SchemaCompileError(f"pattern {pattern!r} ends with a lone backslash")
    e = pattern[i + 1]
    if e in _CLASS_OF:
        return (_CLASS_OF[e] if in_class else f"[{_CLASS_OF[e]}]"), i + 2
    if e in "DWS":
        if in_class:
            raise SchemaCompileError(f"pattern {pattern!r}: \\{e} inside [...] is not supported")
        return f"[^{_CLASS_OF[e.lower()]}]", i + 2
    if e == "b" and in_class:
        return "\\x08", i + 2
    if e == "u":
        if not _HEX4.fullmatch(pattern, i + 2, i + 6):
            raise SchemaCompileError(f"pattern {pattern!r}: only \\uXXXX escapes are supported")
        return pattern[i:i + 6], i + 6
    if e == "x":
        if not _HEX2.fullmatch(pattern, i + 2, i + 4):
            raise SchemaCompileError(f"pattern {pattern!r}: malformed \\x escape")
        return pattern[i:i + 4], i + 4
    if e in "tnrf":
        return "\\" + e, i + 2
    if e == "v":
        return "\\x0b", i + 2
    if e == "0" and not pattern[i + 2:i + 3].isdigit():
        return "\\x00", i + 2
    if e.isdigit() or e.isalpha() or not e.isascii():
        # Back-references, \b, \B, \c, \k and identity escapes of letters differ
        # between ECMA-262 and Python, or are not ECMA at all.
        raise SchemaCompileError(f"pattern {pattern!r}: the escape \\{e} is not supported")
    return "\\" + e, i + 2


def ecma_pattern(pattern: str) -> tuple[str, str]:
    """Translate an ECMA-262 pattern into Python `re` syntax with the same meaning.

    Returns (python pattern, method): the method is `"search"`, or `"match"` when the
    pattern anchors its start (that `^` dropped), or `"fullmatch"` when it anchors both
    ends (both anchors dropped). Groups become non-capturing (nothing reads them).
    """
    out: list[str] = []
    top: list[str] = []  # the kind of each token of `out`: "^", "$", "|" at depth 0, or ""
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        kind = ""
        if c == "\\":
            text, i = _escape(pattern, i, in_class=False)
        elif c == "[":
            j = i + 1
            negate = pattern.startswith("^", j)
            j += negate
            if pattern.startswith("]", j):
                raise SchemaCompileError(f"pattern {pattern!r}: an empty class [] or [^] "
                                         f"is not supported")
            parts = []
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\":
                    piece, j = _escape(pattern, j, in_class=True)
                elif pattern[j] in "[&~|":
                    piece, j = "\\" + pattern[j], j + 1
                else:
                    piece, j = pattern[j], j + 1
                parts.append(piece)
            if j >= n:
                raise SchemaCompileError(f"pattern {pattern!r}: unterminated [...]")
            text, i = "[" + ("^" if negate else "") + "".join(parts) + "]", j + 1
        elif c == "(":
            if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
                size = 4 if pattern.startswith("(?<", i) else 3
                text, i = pattern[i:i + size], i + size
            elif pattern.startswith("(?:", i):
                text, i = "(?:", i + 3
            elif pattern.startswith("(?<", i):
                end = pattern.find(">", i)
                if end < 0:
                    raise SchemaCompileError(f"pattern {pattern!r}: unterminated group name")
                text, i = "(?:", end + 1
            elif pattern.startswith("(?", i):
                raise SchemaCompileError(f"pattern {pattern!r}: the group {pattern[i:i + 3]} "
                                         f"is not ECMA-262")
            else:
                text, i = "(?:", i + 1
            depth += 1
        elif c == ")":
            text, i = ")", i + 1
            depth -= 1
            if depth < 0:
                raise SchemaCompileError(f"pattern {pattern!r}: unbalanced ')'")
        elif c == "{":
            found = _QUANTIFIER.match(pattern, i)
            if found:
                text, i = found.group(), found.end()
            else:
                text, i = "\\{", i + 1
        elif c == "}":
            text, i = "\\}", i + 1
        elif c == "$":
            text, i, kind = "\\Z", i + 1, ("$" if depth == 0 else "")
        elif c == "^":
            text, i, kind = "^", i + 1, ("^" if depth == 0 else "")
        elif c == "|":
            text, i, kind = "|", i + 1, ("|" if depth == 0 else "")
        elif c == ".":
            text, i = _DOT, i + 1
        else:
            text, i = c, i + 1
        out.append(text)
        top.append(kind)
    if depth:
        raise SchemaCompileError(f"pattern {pattern!r}: unbalanced '('")
    method = "search"
    if "|" not in top and top and top[0] == "^":
        out, top, method = out[1:], top[1:], "match"
        if top and top[-1] == "$":
            out, method = out[:-1], "fullmatch"
    text = "".join(out)
    try:
        re.compile(text)
    except re.error as exc:
        raise SchemaCompileError(f"pattern {pattern!r} is not a valid regular expression: "
                                 f"{exc}") from None
    return text, method


def _pattern_function(pattern: str) -> Callable[[str], Any]:
    text, method = ecma_pattern(pattern)
    return getattr(re.compile(text), method)  # type: ignore[no-any-return]


MEMO_LIMIT = 4096
"""How many matching strings each pattern remembers (ids, dates, amounts and the time
stamps of a batch repeat); a full memo starts over, so it keeps the recent ones."""

_MEMOS: dict[str, dict[str, str]] = {}


def _pattern_memo(pattern: str) -> dict[str, str]:
    """The strings known to match `pattern`, shared by every validator that uses it.

    Only strings that matched are added, so a hit is always right; the memo is emptied
    when it holds `MEMO_LIMIT` strings, so its memory stays bounded. Each string maps to
    itself: the first one seen of its value, which a parser may hand on instead of an equal
    copy (see event_fastpath).
    """
    return _MEMOS.setdefault(pattern, {})


def pattern_matcher(pattern: str) -> tuple[dict[str, str], Callable[[str], bool]]:
    """The memo of `pattern` (shared with the validators) and a test for the other strings.

    For callers that look in the memo themselves, where a look-up is all the common case
    costs: the test runs the regex, and remembers a string that matched as the validators
    do (a full memo starts over).
    """
    memo = _pattern_memo(pattern)
    search = _pattern_function(pattern)
    remember, forget = memo.__setitem__, memo.clear

    def matches(text: str) -> bool:
        if not search(text):
            return False
        if len(memo) >= MEMO_LIMIT:
            forget()
        remember(text, text)
        return True
    return memo, matches


def clear_pattern_memos() -> None:
    """Forget every string remembered as matching (for benchmarks that start cold)."""
    for memo in _MEMOS.values():
        memo.clear()


# ------------------------------------------------------------------ JSON semantics


def _json_equal(one: Any, two: Any) -> bool:
    """Equality as JSON Schema means it: true is not 1, 1 is 1.0, containers deeply."""
    if isinstance(one, bool) or isinstance(two, bool):
        return one is two
    if isinstance(one, str) or isinstance(two, str):
        return isinstance(one, str) and isinstance(two, str) and one == two
    if isinstance(one, list) or isinstance(two, list):
        return (isinstance(one, list) and isinstance(two, list) and len(one) == len(two)
                and all(_json_equal(a, b) for a, b in zip(one, two)))
    if isinstance(one, dict) or isinstance(two, dict):
        return (isinstance(one, dict) and isinstance(two, dict) and len(one) == len(two)
                and all(key in two and _json_equal(value, two[key])
                        for key, value in one.items()))
    if one is None or two is None:
        return one is two
    return bool(one == two)


def _json_in(value: Any, options: tuple[Any, ...]) -> bool:
    return any(_json_equal(value, option) for option in options)


def _first_duplicate(items: list[Any]) -> int | None:
    """Index of the first item that equals an earlier one (JSON equality), or None."""
    for j in range(1, len(items)):
        for i in range(j):
            if _json_equal(items[i], items[j]):
                return j
    return None


def _unique(items: list[Any]) -> bool:
    try:
        if len(set(items)) == len(items):
            return True  # no two are even ==, so none are equal as JSON
    except TypeError:
        pass
    return _first_duplicate(items) is None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":
        return ((isinstance(value, int) and not isinstance(value, bool))
                or (isinstance(value, float) and value.is_integer()))
    return _is_number(value)


def _index_of(items: list[Any], item: Any) -> int:
    for index, candidate in enumerate(items):
        if candidate is item:
            return index
    return -1


# ------------------------------------------------------------------ messages (failure path only)

_TYPE_WORDS = {
    "string": "a string", "object": "an object", "array": "a list", "boolean": "true or false",
    "null": "null", "integer": "a whole number", "number": "a number",
}


def _show(value: Any, limit: int = 60) -> str:
    """A value as a message quotes it: strings in single quotes, the rest as JSON."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit - 3] + "..."
        return f"'{text}'" if text.isprintable() else repr(text)
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, TypeError):
        return "a very large number" if isinstance(value, int) else repr(type(value))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {_show(value)}" if value else "an empty string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, numbers.Number):
        return f"the number {_show(value)}"
    return f"a {type(value).__name__}"


def _words(names: list[str]) -> str:
    words = [_TYPE_WORDS[name] for name in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _keys(names: Any) -> str:
    return " and ".join(f"'{name}'" for name in names)


def _did_you_mean(word: Any, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), sorted(map(str, choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _format_path(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _Site:
    """A schema node whose checks can fail, kept for the failure path."""

    __slots__ = ("schema", "expected", "hint", "regex", "_not_check", "_compile_not")

    def __init__(self, schema: Any, expected: str | None = None, hint: str = "") -> None:
        self.schema = schema
        self.expected = expected
        self.hint = hint
        self.regex: Callable[[str], Any] | None = None
        self._not_check: Validator | None = None
        self._compile_not: Callable[[], Validator] | None = None

    def not_matches(self, value: Any) -> bool:
        if self._not_check is None:
            assert self._compile_not is not None
            self._not_check = self._compile_not()
        return self._not_check(value) is None

    def problem(self, value: Any) -> str | None:  # noqa: C901 - one branch per keyword
        """Say, in words, the first local check of this node that `value` fails."""
        schema = self.schema
        if schema is False:
            return f"no value is allowed here, got {_describe(value)}"
        types = schema.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else list(types)
            if not any(_is_type(value, name) for name in names):
                return f"expected {_words(names)}, got {_describe(value)}"
        if "const" in schema and not _json_equal(value, schema["const"]):
            return f"must be {_show(schema['const'])}, not {_show(value)}"
        if "enum" in schema and not _json_in(value, tuple(schema["enum"])):
            options = schema["enum"]
            hint = _did_you_mean(value, options) if isinstance(value, str) else ""
            return (f"{_show(value)} is not one of: "
                    f"{', '.join(_show(option) for option in options)}{hint}")
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            if schema.get("additionalProperties") is False:
                for key in value:
                    if key not in properties:
                        hint = _did_you_mean(key, properties)
                        if not hint:
                            hint = (f"; allowed here: {', '.join(properties)}" if properties
                                    else "; no keys are allowed here")
                        return f"unknown key {_show(key)}{hint}"
            for name in schema.get("required", ()):
                if name not in value:
                    return f"missing required key '{name}'{self.hint}"
            for name, needs in schema.get("dependentRequired", {}).items():
                if name in value:
                    for need in needs:
                        if need not in value:
                            return f"missing key '{need}', which '{name}' needs"
        if isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                least = schema["minLength"]
                return ("must not be empty" if least == 1 else
                        f"must be at least {least} characters long, not {len(value)}")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                return f"must be at most {schema['maxLength']} characters long, not {len(value)}"
            if self.regex is not None and not self.regex(value):
                expected = self.expected or schema.get("x-expected")
                if expected:
                    return f"{_show(value)} is not {expected}"
                return f"{_show(value)} does not match the pattern {schema['pattern']}"
        if _is_number(value):
            for word, relation, test in (
                ("minimum", "at least", lambda v, m: v >= m),
                ("exclusiveMinimum", "more than", lambda v, m: v > m),
                ("maximum", "at most", lambda v, m: v <= m),
                ("exclusiveMaximum", "less than", lambda v, m: v < m),
            ):
                if word in schema and not test(value, schema[word]):
                    size = "small" if "inimum" in word else "large"
                    return f"{_show(value)} is too {size}: must be {relation} {schema[word]}"
        if isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                least = schema["minItems"]
                return f"needs at least {least} item{'' if least == 1 else 's'}, has {len(value)}"
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                return f"allows at most {schema['maxItems']} items, has {len(value)}"
            if schema.get("uniqueItems") is True:
                twice = _first_duplicate(value)
                if twice is not None:
                    return f"lists {_show(value[twice])} more than once"
        if "not" in schema and self.not_matches(value):
            required = schema["not"].get("required") if isinstance(schema["not"], dict) else None
            if required and set(schema["not"]) <= ANNOTATION_KEYWORDS | {"required"}:
                if len(required) == 1:
                    return f"must not have the key '{required[0]}'"
                return f"{_keys(required)} cannot be used together"
            return "has a shape that is not allowed here"
        return None


def _explain(site: _Site, path: tuple[Any, ...], value: Any) -> str:
    """The message of a failed check: `path: problem`."""
    try:
        problem = site.problem(value)
    except Exception as exc:  # a message must never crash validation
        problem = f"is not valid here ({type(exc).__name__} while explaining)"
    if problem is None:
        problem = "does not match its schema here"
    where = _format_path(path)
    return f"{where}: {problem}" if where else problem


# ------------------------------------------------------------------ code generation

_LOCAL_KEYWORDS = frozenset({
    "type", "const", "enum", "required", "dependentRequired", "minLength", "maxLength",
    "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems",
    "maxItems", "uniqueItems", "not",
})
_NUMERIC = frozenset({"integer", "number"})


def _type_test(name: str, v: str) -> str:
    return {
        "string": f"isinstance({v}, str)",
        "object": f"isinstance({v}, dict)",
        "array": f"isinstance({v}, list)",
        "boolean": f"({v} is True or {v} is False)",
        "null": f"{v} is None",
        "integer": (f"(isinstance({v}, int) and not isinstance({v}, bool)"
                    f" or isinstance({v}, float) and {v}.is_integer())"),
        "number": f"(isinstance({v}, _Number) and not isinstance({v}, bool))",
    }[name]


def _conjunction(parts: list[str]) -> str:
    if not parts:
        return "True"
    return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"


class _Compiler:
    def __init__(self, root: Any, resolve: Callable[[str], Any]) -> None:
        self.resolve = resolve
        self.consts: dict[str, Any] = {}
        self.helpers: list[list[str]] = []
        self.names = itertools.count(1)
        self.refs: list[str] = []
        self.patterns: dict[str, tuple[str, str, str, str]] = {}
        self.root_uri = root.get("$id", "") if isinstance(root, dict) else ""
        self.documents: dict[str, Any] = {urldefrag(self.root_uri)[0]: root}

    # -------------------------------------------------------------- helpers

    def const(self, value: Any, prefix: str) -> str:
        name = f"{prefix}{next(self.names)}"
        self.consts[name] = value
        return name

    def temp(self, prefix: str = "x") -> str:
        return f"{prefix}{next(self.names)}"

    def pattern_test(self, pattern: str, v: str) -> str:
        """`v` matches `pattern`: a look in the pattern's memo first, the regex after."""
        if pattern not in self.patterns:
            known = _pattern_memo(pattern)
            self.patterns[pattern] = (self.const(known, "_m"),
                                      self.const(_pattern_function(pattern), "_p"),
                                      self.const(known.__setitem__, "_ma"),
                                      self.const(known.clear, "_mc"))
        memo, test, remember, forget = self.patterns[pattern]
        # After a match: empty a full memo (clear() gives None), then remember `v`
        # (__setitem__ gives None too, so `not` makes the whole test true).
        return (f"({v} in {memo} or {test}({v}) and "
                f"(len({memo}) >= {MEMO_LIMIT} and {forget}() or not {remember}({v}, {v})))")

    def site(self, schema: Any, base: str, expected: str | None = None, hint: str = "") -> str:
        site = _Site(schema, expected, hint)
        if isinstance(schema, dict):
            if "pattern" in schema:
                site.regex = _pattern_function(schema["pattern"])
            if "not" in schema:
                sub, resolve, documents = schema["not"], self.resolve, self.documents
                site._compile_not = lambda: _compile(sub, resolve, base, documents)
        return self.const(site, "_s")

    def deref(self, ref: str, base: str, where: str) -> tuple[Any, str, str]:
        uri = urljoin(base, ref) if base else ref
        document_uri, fragment = urldefrag(uri)
        document = self.documents.get(document_uri)
        if document is None:
            try:
                document = self.resolve(document_uri)
            except Exception as exc:
                raise SchemaCompileError(f"{where}: cannot resolve $ref '{ref}' "
                                         f"({document_uri}): {exc!r}") from None
            if not isinstance(document, (dict, bool)):
                raise SchemaCompileError(f"{where}: $ref '{ref}' resolved to no schema")
            self.documents[document_uri] = document
        node, node_base = document, document_uri
        if fragment and not fragment.startswith("/"):
            raise SchemaCompileError(f"{where}: $ref '{ref}' uses an anchor; only JSON "
                                     f"pointers are supported")
        for part in pointer_tokens(fragment):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaCompileError(f"{where}: $ref '{ref}' points at nothing")
            if isinstance(node, dict) and isinstance(node.get("$id"), str):
                node_base = urljoin(node_base, node["$id"])
        return node, node_base, f"{document_uri}#{fragment}"

    # -------------------------------------------------------------- checking the schema

    @staticmethod
    def check_keywords(schema: Any, where: str) -> None:
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            raise SchemaCompileError(f"{where}: a schema must be an object or a boolean")
        for key in schema:
            if key in SUPPORTED_KEYWORDS or key in ANNOTATION_KEYWORDS or key.startswith("x-"):
                continue
            raise SchemaCompileError(
                f"{where}: the keyword '{key}' is not supported by the event validator "
                f"compiler; supported: {', '.join(sorted(SUPPORTED_KEYWORDS))}")
        types = schema.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else types
            if not isinstance(names, list) or not names or any(n not in _JSON_TYPES for n in names):
                raise SchemaCompileError(f"{where}: 'type' must name JSON types, got {types!r}")
        for key in ("required",):
            if key in schema and (not isinstance(schema[key], list)
                                  or not all(isinstance(k, str) for k in schema[key])):
                raise SchemaCompileError(f"{where}: '{key}' must be a list of key names")
        for key in ("minLength", "maxLength", "minItems", "maxItems"):
            if key in schema and (not isinstance(schema[key], int) or isinstance(schema[key], bool)
                                  or schema[key] < 0):
                raise SchemaCompileError(f"{where}: '{key}' must be a non-negative integer")
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if key in schema and not _is_number(schema[key]):
                raise SchemaCompileError(f"{where}: '{key}' must be a number")
        if "enum" in schema and not isinstance(schema["enum"], list):
            raise SchemaCompileError(f"{where}: 'enum' must be a list")
        if "uniqueItems" in schema and not isinstance(schema["uniqueItems"], bool):
            raise SchemaCompileError(f"{where}: 'uniqueItems' must be true or false")
        if "pattern" in schema and not isinstance(schema["pattern"], str):
            raise SchemaCompileError(f"{where}: 'pattern' must be a string")
        if "properties" in schema and not isinstance(schema["properties"], dict):
            raise SchemaCompileError(f"{where}: 'properties' must be an object")
        if "allOf" in schema and (not isinstance(schema["allOf"], list) or not schema["allOf"]):
            raise SchemaCompileError(f"{where}: 'allOf' must be a non-empty list")
        if "dependentRequired" in schema:
            deps = schema["dependentRequired"]
            if not isinstance(deps, dict) or not all(
                    isinstance(v, list) and all(isinstance(k, str) for k in v)
                    for v in deps.values()):
                raise SchemaCompileError(f"{where}: 'dependentRequired' must map keys to lists")
        if "$ref" in schema and not isinstance(schema["$ref"], str):
            raise SchemaCompileError(f"{where}: '$ref' must be a string")

    # -------------------------------------------------------------- local checks

    def local_parts(self, schema: dict[str, Any], v: str, known: frozenset[str] | None,
                    base: str, where: str, structural: bool = False,
                    ) -> tuple[list[str], frozenset[str] | None]:
        """Boolean expressions of the checks that do not descend, and the types left.

        With `structural`, required keys that have a property schema, and
        `additionalProperties: false` next to them, are left to `emit_object`, which
        reads those keys anyway.
        """
        parts: list[str] = []
        types = schema.get("type")
        if types is not None:
            names = frozenset([types] if isinstance(types, str) else types)
            allowed = names | ({"integer"} if "number" in names else set())
            if known is None or not known <= allowed:
                tests = [_type_test(name, v) for name in sorted(names)]
                parts.append(tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")")
                known = allowed if known is None else known & allowed
        if "const" in schema:
            value = schema["const"]
            if isinstance(value, str):
                parts.append(f"{v} == {value!r}")
            elif value is None or isinstance(value, bool):
                parts.append(f"{v} is {value!r}")
            else:
                parts.append(f"_json_equal({v}, {self.const(value, '_c')})")
        if "enum" in schema:
            options = schema["enum"]
            if all(isinstance(option, str) for option in options):
                name = self.const(frozenset(options), "_e")
                parts.append(f"(isinstance({v}, str) and {v} in {name})")
            else:
                parts.append(f"_json_in({v}, {self.const(tuple(options), '_e')})")

        def gated(kind: str, test: str, checks: list[str]) -> None:
            if not checks:
                return
            kinds = _NUMERIC if kind == "number" else frozenset({kind})
            if known is not None and not known & kinds:
                return  # the value can never be of this type here
            if known is not None and known <= kinds:
                parts.extend(checks)
            else:
                parts.append(f"(not {test} or {_conjunction(checks)})")

        checks: list[str] = []
        properties = schema.get("properties", {})
        fetched = self.fetched(schema) if structural else frozenset()
        if schema.get("additionalProperties") is False and not fetched:
            if properties:
                checks.append(f"{self.const(frozenset(properties).issuperset, '_a')}({v})")
            else:
                checks.append(f"not {v}")
        required = [name for name in dict.fromkeys(schema.get("required", ()))
                    if name not in fetched]
        if len(required) <= 3:
            checks.extend(f"{name!r} in {v}" for name in required)
        else:
            checks.append(f"{v}.keys() >= {self.const(frozenset(required), '_r')}")
        for name, needs in schema.get("dependentRequired", {}).items():
            if needs:
                has = " and ".join(f"{need!r} in {v}" for need in needs)
                checks.append(f"({name!r} not in {v} or {has})")
        gated("object", f"isinstance({v}, dict)", checks)

        checks = _length_checks(v, schema.get("minLength", 0), schema.get("maxLength"),
                                f"{v} != ''")
        if "pattern" in schema:
            checks.append(self.pattern_test(schema["pattern"], v))
        gated("string", f"isinstance({v}, str)", checks)

        checks = []
        for word, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                         ("exclusiveMaximum", "<")):
            if word in schema:
                checks.append(f"{v} {op} {schema[word]!r}")
        gated("number", f"(isinstance({v}, _Number) and not isinstance({v}, bool))", checks)

        checks = _length_checks(v, schema.get("minItems", 0), schema.get("maxItems"),
                                f"len({v}) > 0")
        if schema.get("uniqueItems") is True:
            checks.append(f"_unique({v})")
        gated("array", f"isinstance({v}, list)", checks)

        if "not" in schema:
            parts.append(f"not {self.boolean(schema['not'], v, known, base, where + '/not')}")
        return parts, known

    def boolean(self, schema: Any, v: str, known: frozenset[str] | None, base: str,
                where: str) -> str:
        """An expression that is true when `v` is valid against `schema`."""
        self.check_keywords(schema, where)
        if schema is True:
            return "True"
        if schema is False:
            return "False"
        keywords = set(schema) - ANNOTATION_KEYWORDS
        if keywords <= _LOCAL_KEYWORDS and not any(k.startswith("x-") for k in keywords):
            parts, _ = self.local_parts(schema, v, known, base, where)
            return _conjunction(parts)
        name = self.temp("_b")
        lines = [f"def {name}(v):"]
        self.emit(schema, "v", (), None, base, where, lines, "    ", "bool")
        lines.append("    return True")
        self.helpers.append(lines)
        return f"{name}({v})"

    # -------------------------------------------------------------- one schema node

    def emit(self, schema: Any, v: str, path: tuple[str, ...], known: frozenset[str] | None,
             base: str, where: str, out: list[str], pad: str, mode: str,
             expected: str | None = None, hint: str = "") -> frozenset[str] | None:
        """Append the checks of `schema` on the variable `v`; return the types it leaves."""
        self.check_keywords(schema, where)

        def fail(site: str) -> str:
            if mode == "bool":
                return "return False"
            return f"return _explain({site}, ({''.join(p + ', ' for p in path)}), {v})"

        if schema is True:
            return known
        if schema is False:
            out.append(f"{pad}{fail('' if mode == 'bool' else self.site(False, base))}")
            return known
        if isinstance(schema.get("$id"), str):
            base = urljoin(base, schema["$id"])

        if "$ref" in schema:
            target, target_base, target_where = self.deref(schema["$ref"], base, where)
            if target_where in self.refs:
                raise SchemaCompileError(f"{where}: the $ref '{schema['$ref']}' is recursive; "
                                         f"recursive schemas are not supported")
            self.refs.append(target_where)
            known = self.emit(target, v, path, known, target_base, target_where, out, pad, mode,
                              expected=schema.get("x-expected", expected), hint=hint)
            self.refs.pop()

        parts, known = self.local_parts(schema, v, known, base, where, structural=True)
        site = "" if mode == "bool" else self.site(schema, base, expected, hint)
        if parts:
            out.append(f"{pad}if not {_conjunction(parts)}:")
            out.append(f"{pad}    {fail(site)}")

        for kind, lines in (
                ("object", self.emit_object(schema, v, path, base, where, mode, fail(site))),
                ("array", self.emit_items(schema, v, path, base, where, mode))):
            if not lines or (known is not None and kind not in known):
                continue
            if known is not None and known <= {kind}:
                out.extend(pad + line for line in lines)
            else:
                out.append(f"{pad}if isinstance({v}, {'dict' if kind == 'object' else 'list'}):")
                out.extend(pad + "    " + line for line in lines)

        for index, sub in enumerate(schema.get("allOf", ())):
            known = self.emit(sub, v, path, known, base, f"{where}/allOf/{index}", out, pad, mode)

        if "if" in schema and ("then" in schema or "else" in schema):
            condition = self.boolean(schema["if"], v, known, base, where + "/if")
            then_hint, else_hint = self.branch_hints(schema["if"])
            branches: list[list[str]] = []
            for word, hint in (("then", then_hint), ("else", else_hint)):
                lines: list[str] = []
                if word in schema:
                    self.emit(schema[word], v, path, known, base, f"{where}/{word}", lines,
                              pad + "    ", mode, hint=hint)
                branches.append(lines)
            then_lines, else_lines = branches
            if then_lines:
                out.append(f"{pad}if {condition}:")
                out.extend(then_lines)
                if else_lines:
                    out.append(f"{pad}else:")
                    out.extend(else_lines)
            elif else_lines:
                out.append(f"{pad}if not {condition}:")
                out.extend(else_lines)
        elif "if" in schema:
            self.check_keywords(schema["if"], where + "/if")
        return known

    @staticmethod
    def branch_hints(condition: Any) -> tuple[str, str]:
        """Hints for a key the then/else branch requires: what the alternative is."""
        if not isinstance(condition, dict):
            return "", ""
        keys = set(condition) - ANNOTATION_KEYWORDS
        if keys == {"required"} and condition["required"]:
            return "", f" (or give {_keys(condition['required'])})"
        inner = condition.get("not")
        if keys == {"not"} and isinstance(inner, dict) and set(inner) - ANNOTATION_KEYWORDS == {
                "required"} and inner["required"]:
            return f" (or give {_keys(inner['required'])})", ""
        return "", ""

    @staticmethod
    def fetched(schema: dict[str, Any]) -> frozenset[str]:
        """The required keys that `emit_object` reads (those with a property schema)."""
        properties = schema.get("properties", {})
        return frozenset(name for name in schema.get("required", ()) if name in properties)

    def emit_object(self, schema: dict[str, Any], v: str, path: tuple[str, ...], base: str,
                    where: str, mode: str, fail: str) -> list[str]:
        """Lines that check the keys and properties of `v`, to run only when `v` is a dict.

        Required properties are read in one `try` (free when they are all there); with
        `additionalProperties: false`, counting the keys that are allowed replaces a look
        at every key.
        """
        out: list[str] = []
        properties = schema.get("properties", {})
        fetched = self.fetched(schema)
        values = {name: self.temp() for name in properties}
        if fetched:
            out.append("try:")
            out.extend(f"    {values[name]} = {v}[{name!r}]" for name in properties
                       if name in fetched)
            out.append("except KeyError:")
            out.append(f"    {fail}")
        closed = schema.get("additionalProperties") is False and bool(fetched)
        required = set(schema.get("required", ()))
        count = ""  # with optional properties, the name of the count of keys seen
        if closed and required <= set(properties):
            if set(properties) == required:
                out.append(f"if len({v}) != {len(required)}:")
                out.append(f"    {fail}")
            else:
                # Every key is required or an optional property: count those seen, and
                # any other key makes the count fall short of len(v).
                count = self.temp("n")
                out.append(f"{count} = {len(required)}")
        elif closed:
            out.append(f"if not {self.const(frozenset(properties).issuperset, '_a')}({v}):")
            out.append(f"    {fail}")
        for name, sub in properties.items():
            here = f"{where}/properties/{name}"
            x = values[name]
            body: list[str] = []
            self.emit(sub, x, path + (repr(name),), None, base, here, body, "", mode)
            if name in fetched:
                out.extend(body)
            elif body or count:
                out.append(f"if {name!r} in {v}:")
                if count:
                    out.append(f"    {count} += 1")
                if body:
                    out.append(f"    {x} = {v}[{name!r}]")
                    out.extend("    " + line for line in body)
        if count:
            out.append(f"if len({v}) != {count}:")
            out.append(f"    {fail}")
        extra = schema.get("additionalProperties", True)
        if extra is not True and extra is not False:
            k, x = self.temp("k"), self.temp()
            body = []
            self.emit(extra, x, path + (k,), None, base, f"{where}/additionalProperties", body,
                      "", mode)
            if body:
                listed = self.const(frozenset(schema.get("properties", {})), "_n")
                out.append(f"for {k}, {x} in {v}.items():")
                out.append(f"    if {k} not in {listed}:")
                out.extend("        " + line for line in body)
        return out

    def emit_items(self, schema: dict[str, Any], v: str, path: tuple[str, ...], base: str,
                   where: str, mode: str) -> list[str]:
        """Lines that check each item of `v`, to run only when `v` is a list."""
        if "items" not in schema:
            return []
        x = self.temp()
        body: list[str] = []
        self.emit(schema["items"], x, path + (f"_index_of({v}, {x})",), None, base,
                  where + "/items", body, "", mode)
        return [f"for {x} in {v}:"] + ["    " + line for line in body] if body else []


def _compile(schema: Any, resolve: Callable[[str], Any], base: str | None = None,
             documents: dict[str, Any] | None = None) -> Validator:
    """Compile `schema`; a subschema passes the `base` URI and the documents it came from."""
    compiler = _Compiler(schema, resolve)
    if base is not None:
        compiler.root_uri = base
        compiler.documents = documents if documents is not None else {}
    root_base = compiler.root_uri
    body: list[str] = []
    compiler.emit(schema, "v", (), None, root_base, f"{root_base}#", body, "        ", "error")
    lines = ["def _build(_K):"]
    lines += [f"    {name} = _K[{name!r}]" for name in compiler.consts]
    for helper in compiler.helpers:
        lines += ["    " + line for line in helper]
    lines.append("    def validate(v):")
    lines += body
    lines.append("        return None")
    lines.append("    return validate")
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {
        "_explain": _explain, "_json_equal": _json_equal, "_json_in": _json_in,
        "_unique": _unique, "_index_of": _index_of, "_Number": numbers.Number,
    }
    exec(compile(source, f"<event validator {root_base or 'schema'}>", "exec"), namespace)
    validate = namespace["_build"](compiler.consts)
    validate.__doc__ = f"Validate an instance against {root_base or 'a schema'}."
    validate.source = source  # type: ignore[attr-defined]
    return validate  # type: ignore[no-any-return]


def compile_validator(schema: dict[str, Any], resolve: Callable[[str], dict[str, Any]]) -> Validator:
    """Compile one JSON Schema (Draft 2020-12) into a validating function.

    `resolve(uri)` returns the schema document whose `$id` is `uri` (an absolute URI
    without fragment); every `$ref` is resolved against the `$id` of the schema that holds
    it and inlined now. The returned function gives None for a valid instance and one
    message (`dotted.path: problem`) for an invalid one; its `source` attribute is the
    generated Python. A keyword outside `SUPPORTED_KEYWORDS`, or a pattern that means
    something else in Python than in ECMA-262, raises SchemaCompileError.
    """
    return _compile(schema, resolve)


def _schemas_by_id(schema_root: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for file in sorted(schema_root.rglob("*.json")):
        contents = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(contents, dict) and isinstance(contents.get("$id"), str):
            found[urldefrag(contents["$id"])[0]] = contents
    return found


def pointer_tokens(fragment: str) -> list[str]:
    """The reference tokens of a JSON pointer fragment such as `/$defs/a~1b` (RFC 6901,
    percent-decoded as a URI fragment is): ['$defs', 'a/b']."""
    return [unquote(part).replace("~1", "/").replace("~0", "~")
            for part in fragment.split("/")[1:]] if fragment else []


def schema_documents(schema_root: str | Path | None = None) -> dict[str, Any]:
    """Every schema under `schema_root` (default: this checkout's `schemas/`) that has an
    `$id`, by that id without fragment: the documents a `$ref` can point at."""
    return _schemas_by_id(Path(schema_root) if schema_root is not None else _DEFAULT_SCHEMA_ROOT)


def load_event_validators(schema_root: str | Path | None = None) -> dict[str, Validator]:
    """Compile the schema of every event type under `<schema_root>/events/v1/`.

    `schema_root` is the `schemas/` folder (default: the one of this checkout); every
    `*.json` under it with an `$id` can be the target of a `$ref`. Keys are the event
    types (`time.approved`, ...); the dispatching `event.json` is left out.
    """
    root = Path(schema_root) if schema_root is not None else _DEFAULT_SCHEMA_ROOT
    folder = root / "events" / "v1"
    if not folder.is_dir():
        raise SchemaCompileError(f"no event schemas in {folder}")
    documents = _schemas_by_id(root)

    def resolve(uri: str) -> dict[str, Any]:
        if uri not in documents:
            raise SchemaCompileError(f"no schema has the $id {uri}")
        return documents[uri]  # type: ignore[no-any-return]

    validators: dict[str, Validator] = {}
    for file in sorted(folder.glob("*.json")):
        if file.name == "event.json":
            continue
        event_type = file.name[:-len(".json")]
        validators[event_type] = compile_validator(
            json.loads(file.read_text(encoding="utf-8")), resolve)
    return validators


def _length_checks(v: str, least: int, most: int | None, non_empty: str) -> list[str]:
    """Checks of a string's or an array's length; `non_empty` is the cheap test for 1."""
    checks = []
    if least == 1:
        checks.append(non_empty)
    elif least > 1:
        checks.append(f"len({v}) >= {least}")
    if most is not None:
        checks.append(f"len({v}) <= {most}")
    return checks
