"""Parses IMAP response data (RFC 3501 §9) as imaplib returns it.

imaplib hands back a FETCH response as a list mixing bytes and
(prefix, literal) tuples; `flatten` joins them into tokens and `parse`
builds nested Python lists of bytes / None (NIL) / int.
"""

import re

_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|(NIL)\b|'
                    rb'([^\s()"{]+)|\{(\d+)\}\r\n)')


class Literal(bytes):
    """Marks literal bytes so the tokenizer does not read them again."""


def flatten(data):
    """Turns imaplib's [bytes | (bytes, literal)] into a token stream."""
    parts = []
    for item in data:
        if isinstance(item, tuple):
            head, literal = item
            # The head ends with "{n}"; replace it with the literal itself.
            head = re.sub(rb"\{\d+\}$", b"", head)
            parts.append(head)
            parts.append(Literal(literal))
        elif item is not None:
            parts.append(item)
    return parts


def tokens(parts):
    for part in parts:
        if isinstance(part, Literal):
            yield ("str", bytes(part))
            continue
        pos = 0
        while pos < len(part):
            m = _TOKEN.match(part, pos)
            if not m or m.end() == pos:
                if part[pos:].strip() == b"":
                    break
                raise ValueError(f"cannot parse at {part[pos:pos+40]!r}")
            pos = m.end()
            if m.group(1):
                yield ("(", None)
            elif m.group(2):
                yield (")", None)
            elif m.group(3) is not None:
                yield ("str", re.sub(rb"\\(.)", rb"\1", m.group(3)))
            elif m.group(4):
                yield ("nil", None)
            elif m.group(5):
                yield ("atom", m.group(5))


def parse(data):
    """Parses a whole response into a list of values."""
    stack = [[]]
    for kind, value in tokens(flatten(data)):
        if kind == "(":
            stack.append([])
        elif kind == ")":
            done = stack.pop()
            stack[-1].append(done)
        elif kind == "nil":
            stack[-1].append(None)
        else:
            stack[-1].append(value)
    return stack[0]


def fetch_items(data):
    """Maps each FETCH response of imaplib data to {ITEM: value}."""
    out = []
    values = parse(data)
    i = 0
    while i < len(values):
        if isinstance(values[i], list):
            items = values[i]
            out.append({items[k].decode().upper(): items[k + 1]
                        for k in range(0, len(items) - 1, 2)})
        i += 1
    return out
