"""GitHub's REST JSON for reviews ("list reviews for a pull request"), read from a file.

Saving a real pull request's reviews (``gh api repos/O/R/pulls/N/reviews --paginate``) and
passing them to ``gitjit check-pr --reviews`` reproduces that pull request's verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.core.models import Login, Review, ReviewState
from engine.core.values import parse_timestamp
from engine.errors import UsageError


def load_reviews(path: Path) -> tuple[Review, ...]:
    try:
        data = _pages(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read reviews file {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not JSON ({exc}); save the reviews with "
                         "'gh api repos/OWNER/REPO/pulls/N/reviews --paginate'") from exc
    # `gh api --slurp` wraps the pages in one outer array: a list of pages is accepted too.
    if isinstance(data, list) and data and all(isinstance(page, list) for page in data):
        data = [item for page in data for item in page]
    if not isinstance(data, list):
        raise UsageError(f"{path}: expected a JSON array of reviews")
    return tuple(parse_review(item, f"{path}[{index}]") for index, item in enumerate(data))


def _pages(text: str) -> Any:
    """The file's JSON. `gh api --paginate` writes each page's array right after the other
    (``[...][...]``), which is no single JSON document: such a run of arrays is read as
    their concatenation, as the pages of one list."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = _skip_space(text, 0)
    while True:
        value, index = decoder.raw_decode(text, index)
        values.append(value)
        index = _skip_space(text, index)
        if index == len(text):
            break
    if len(values) == 1:
        return values[0]
    if not all(isinstance(value, list) for value in values):
        return None  # several documents but not pages: refused as no array of reviews
    return [item for page in values for item in page]


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def parse_review(item: Any, where: str) -> Review:
    try:
        user = item["user"] or {}
        login = str(user["login"])
        state = ReviewState(item["state"])
        commit = str(item["commit_id"] or "")
        submitted = item.get("submitted_at")
        return Review(
            reviewer=Login(login.lower()),
            state=state,
            commit=commit,
            submitted_at=parse_timestamp(submitted) if submitted else None,
            is_bot=user.get("type") == "Bot",
            id=int(item.get("id") or 0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{where}: not a GitHub review object ({exc}); each needs user.login, "
                         "user.type, state, commit_id and submitted_at") from exc
