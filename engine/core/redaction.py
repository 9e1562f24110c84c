"""Keeping known secret values out of text: whole values, never fragments.

Replacing a secret where it occurs as a substring shows exactly where it was: a password
``on`` in libpq's well-known "connection to server on socket ..." reads "connection to server
*** socket", and a password that is the database's name reads 'database "***" does not
exist'. Whoever knows the surrounding text reads the password off the gap. So a secret is
never cut out of the text around it:

- ``redact_values`` replaces each whole value that holds a secret (a run of characters up to
  whitespace, quotes or a separator such as ``=``, ``:`` or ``@``), so ``passenger`` with the
  secret ``pass`` becomes ``[redacted]``, not ``[redacted]enger``. For output gitjit does not
  know in advance (an action's).
- ``withhold`` drops a whole message that holds a secret anywhere, for messages whose text a
  reader may know by heart (a server's error messages), where even a redacted word would say
  which word held it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# What ends a value: whitespace, quotes, and the separators of key=value, URLs and lists.
_SEPARATORS = frozenset(" \t\r\n\f\v\"'`=:@/\\,;()[]{}<>")


def _spans(text: str, secrets: Iterable[str]) -> list[tuple[int, int]]:
    """Every whole value of ``text`` that holds a secret, as (start, end), merged."""
    spans: list[tuple[int, int]] = []
    for secret in {s for s in secrets if s}:
        for match in re.finditer(re.escape(secret), text):
            start, end = match.start(), match.end()
            while start > 0 and text[start - 1] not in _SEPARATORS:
                start -= 1
            while end < len(text) and text[end] not in _SEPARATORS:
                end += 1
            spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact_values(text: str, secrets: Iterable[str], marker: str = REDACTED) -> str:
    """``text`` with every whole value that holds one of ``secrets`` replaced by ``marker``."""
    out: list[str] = []
    last = 0
    for start, end in _spans(text, secrets):
        out += [text[last:start], marker]
        last = end
    return "".join([*out, text[last:]])


def holds_secret(text: str, secrets: Iterable[str]) -> bool:
    return any(secret and secret in text for secret in secrets)


def withhold(message: str, secrets: Iterable[str], instead: str) -> str:
    """``message``, or ``instead`` when any secret occurs in it at all."""
    return instead if holds_secret(message, secrets) else message
