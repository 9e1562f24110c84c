""""Did you mean ...?" for a name that is not known, shared by every message that names one
(keys, groups, policies, finding codes)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """"did you mean 'dba'? " for the closest known name, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1)
    return f"did you mean {close[0]!r}? " if close else ""
