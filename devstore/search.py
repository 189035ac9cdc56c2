"""Shopify's search syntax (the `query:` argument of orders and products), parsed for real:
terms `name:value` with the comparators `: :< :> :<= :>=`, bare words, quoted values, the
connectives AND (implied between terms) and OR, the modifiers `-` and `NOT`, and parentheses.
AND binds tighter than OR, as in most search grammars: write `(a OR b) c` to mean it.

Filters a resource does not know are ignored, as Shopify does, and reported as warnings (Shopify
returns them in `extensions.search`)."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COMPARATORS = (":<=", ":>=", ":<", ":>", ":")


class SearchSyntaxError(ValueError):
    """The query string cannot be parsed (an unclosed quote or parenthesis)."""


@dataclass(frozen=True)
class Term:
    name: str | None  # None: a bare word, matched against the resource's default text
    op: str  # "=", "<", ">", "<=", ">="
    value: str


@dataclass(frozen=True)
class Node:
    kind: str  # "and", "or", "not", "term", "all"
    children: tuple[Node, ...] = ()
    term: Term | None = None


@dataclass
class Filter:
    """How one resource answers the terms: `fields[name](record, op, value)`, `text(record,
    word)` for bare words; a field answers None when the value is unusable (ignored, warned)."""

    fields: dict[str, Callable[[Any, str, str], bool | None]]
    text: Callable[[Any, str], bool]
    warnings: list[dict[str, str]] = field(default_factory=list)


def _tokens(query: str) -> list[str]:
    tokens: list[str] = []
    current = ""
    quote = ""
    for char in query:
        if quote:
            current += char
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current += char
        elif char.isspace() or char in "()":
            if current:
                tokens.append(current)
                current = ""
            if char in "()":
                tokens.append(char)
        else:
            current += char
    if quote:
        raise SearchSyntaxError(f"unclosed quote in {query!r}")
    if current:
        tokens.append(current)
    return tokens


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _term(token: str) -> Term:
    if not token.startswith(("'", '"')):
        name, colon, rest = token.partition(":")
        if colon and name:
            for comparator in COMPARATORS:
                if (":" + rest).startswith(comparator):
                    value = (":" + rest)[len(comparator) :]
                    return Term(name.lower(), comparator[1:] or "=", _unquote(value))
    return Term(None, "=", _unquote(token))


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def query(self) -> Node:
        parts = [self.conjunction()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Node("or", tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.unary()]
        while (token := self.peek()) is not None and token not in ("OR", ")"):
            if token == "AND":
                self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else Node("and", tuple(parts))

    def unary(self) -> Node:
        token = self.peek()
        if token is None or token in (")", "OR", "AND"):
            raise SearchSyntaxError(f"a term was expected at {token or 'the end'!r}")
        if token == "NOT":
            self.take()
            return Node("not", (self.unary(),))
        if token == "(":
            self.take()
            inner = self.query()
            if self.peek() != ")":
                raise SearchSyntaxError("unclosed parenthesis")
            self.take()
            return inner
        self.take()
        if token.startswith("-") and len(token) > 1:
            return Node("not", (Node("term", term=_term(token[1:])),))
        return Node("term", term=_term(token))


def search_parse(query: str | None) -> Node:
    tokens = _tokens(query or "")
    if not tokens:
        return Node("all")
    parser = _Parser(tokens)
    node = parser.query()
    if parser.peek() is not None:
        raise SearchSyntaxError(f"unexpected {parser.peek()!r}")
    return node


def search_match(node: Node, record: Any, spec: Filter) -> bool:
    """Does `record` match? Unknown fields and unusable values match everything (ignored)."""
    if node.kind == "all":
        return True
    if node.kind == "and":
        return all(search_match(child, record, spec) for child in node.children)
    if node.kind == "or":
        return any(search_match(child, record, spec) for child in node.children)
    if node.kind == "not":
        inner = node.children[0]
        if inner.kind == "term" and _ignored(inner.term, spec):
            return True
        return not search_match(inner, record, spec)
    term = node.term
    assert term is not None  # noqa: S101 - a "term" node always has one
    if term.name is None:
        return spec.text(record, term.value)
    answer = spec.fields.get(term.name)
    if answer is None:
        return True
    result = answer(record, term.op, term.value)
    return True if result is None else result


def _ignored(term: Term | None, spec: Filter) -> bool:
    return term is not None and term.name is not None and term.name not in spec.fields


def search_warnings(node: Node, spec: Filter) -> list[dict[str, str]]:
    """Shopify's warnings for the filters it ignored."""
    found: list[dict[str, str]] = []
    if node.kind == "term" and node.term is not None and _ignored(node.term, spec):
        found.append(
            {"field": node.term.name or "", "message": "Invalid search field for this query."}
        )
    for child in node.children:
        found.extend(search_warnings(child, spec))
    return found


# --- value helpers the resources use -------------------------------------------------------------


def parse_time(value: str) -> tuple[float, float] | None:
    """A date-time (an instant, as a zero-length range) or a date (that whole UTC day)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return day.timestamp(), day.timestamp() + 86400
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp(), moment.timestamp()


def compare_time(actual: float | None, op: str, value: str) -> bool | None:
    bounds = parse_time(value)
    if bounds is None:
        return None
    if actual is None:
        return False
    start, end = bounds
    actual = float(int(actual))  # Shopify's timestamps are to the second
    if op == "=":
        return start <= actual < end if end > start else actual == start
    if op == "<":
        return actual < start
    if op == "<=":
        return actual < end if end > start else actual <= start
    if op == ">":
        return actual >= end if end > start else actual > start
    return actual >= start  # ">="


def compare_number(actual: int, op: str, value: str) -> bool | None:
    try:
        number = int(value.rsplit("/", 1)[-1])  # a gid or a number
    except ValueError:
        return None
    return {
        "=": actual == number,
        "<": actual < number,
        "<=": actual <= number,
        ">": actual > number,
        ">=": actual >= number,
    }[op]


def compare_text(actual: str, value: str) -> bool:
    """Case-insensitive; `*` wildcards, or a substring when there are none."""
    pattern = value.lower()
    if "*" not in pattern:
        pattern = f"*{pattern}*"
    return fnmatch.fnmatchcase(actual.lower(), pattern)
