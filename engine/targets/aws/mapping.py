"""Which AWS user a forge login is, and back: an explicit map and/or a user-name pattern.

Pure: no AWS calls. The connection says ``user_map: "rita=rita.r@acme.example, ravi=ravi"``
(``login=name`` pairs, separated by commas or white space) and/or ``user_name_pattern:
"{login}@acme.example"``; the map wins for the logins it names. Names are compared without
regard to case, as IAM and the Identity Store compare user names.

The mapping must be one-to-one, or a grant for one person could land on another's user: a
name that two logins reach (two map entries, or a map entry and the pattern for another
login) is ambiguous and fails closed, for both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from engine.targets.base import TargetError

LOGIN = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$")
_PAIR = re.compile(r"^(?P<login>[^=\s,]+)=(?P<name>[^=\s,]+)$")
PLACEHOLDER = "{login}"


@dataclass(frozen=True)
class UserMapping:
    explicit: Mapping[str, str]
    """login (lower-case) -> user name, from ``user_map``."""
    pattern: str | None
    """``user_name_pattern`` with one ``{login}``, or None."""

    @classmethod
    def from_connection(cls, connection: Mapping[str, str]) -> UserMapping:
        explicit: dict[str, str] = {}
        for item in re.split(r"[\s,]+", connection.get("user_map", "").strip()):
            if not item:
                continue
            match = _PAIR.match(item)
            if match is None or not LOGIN.match(match["login"]):
                raise TargetError(f"aws target: user_map entry {item!r} is not "
                                  f"'<github login>=<user name>'; separate entries with commas")
            login = match["login"].lower()
            if login in explicit:
                raise TargetError(f"aws target: user_map names {login} twice; keep one entry")
            explicit[login] = match["name"]
        pattern = connection.get("user_name_pattern") or None
        if pattern is not None and pattern.count(PLACEHOLDER) != 1:
            raise TargetError(f"aws target: user_name_pattern {pattern!r} must contain "
                              f"{PLACEHOLDER} exactly once, e.g. '{{login}}@example.com'")
        return cls(explicit, pattern)

    def name(self, login: str) -> str:
        """The user name of ``login``; a TargetError when unknown or ambiguous."""
        login = login.lower()
        name = self.explicit.get(login)
        if name is None and self.pattern is not None:
            name = self.pattern.replace(PLACEHOLDER, login)
        if name is None:
            raise TargetError(f"aws target: no AWS user is mapped for {login}; add "
                              f"'{login}=<user name>' to user_map, or set user_name_pattern, "
                              f"in the connection in policies/settings.yaml")
        others = sorted(self.logins(name) - {login})
        if others:
            raise TargetError(f"aws target: the AWS user name {name!r} of {login} is also "
                              f"the one of {', '.join(others)}; the mapping must be "
                              f"one-to-one, so gitjit grants neither. Fix user_map or "
                              f"user_name_pattern")
        return name

    def logins(self, name: str) -> set[str]:
        """Every login whose user name is ``name`` (more than one: ambiguous)."""
        found = {login for login, mapped in self.explicit.items()
                 if mapped.lower() == name.lower()}
        if self.pattern is not None:
            head, _, tail = self.pattern.partition(PLACEHOLDER)
            low = name.lower()
            if (low.startswith(head.lower()) and low.endswith(tail.lower())
                    and len(low) > len(head) + len(tail)):
                login = low[len(head):len(low) - len(tail)]
                # The map overrides the pattern for the logins it names.
                if LOGIN.match(login) and login not in self.explicit:
                    found.add(login)
        return found

    def login(self, name: str) -> str | None:
        """The one login whose user name is ``name``; None for none or several."""
        found = self.logins(name)
        return next(iter(found)) if len(found) == 1 else None
