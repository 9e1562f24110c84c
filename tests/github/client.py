"""A raw HTTP client for the emulator's tests: no PyGithub in between, every byte visible."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.github import schemas
from tests.github.emulator import ROUTES, Route


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


def route(key: str) -> Route:
    """The ROUTES entry for 'METHOD /template'."""
    for candidate in ROUTES:
        if candidate.key == key:
            return candidate
    raise KeyError(f"no route {key!r} in ROUTES")


class Client:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: str(v) for k, v in query.items()})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        if self.token is not None:
            request.add_header("Authorization", f"token {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                status = response.status
                got = dict(response.headers.items())
        except urllib.error.HTTPError as error:
            raw = error.read()
            status = error.code
            got = dict(error.headers.items())
        return Reply(status, got, json.loads(raw) if raw else None)

    def ok(self, key: str, *args: Any, **kwargs: Any) -> Any:
        """Call the route named by ``key`` ('METHOD /template') with the path filled in from
        ``path=``, assert its success status and check the body against the route's model."""
        found = route(key)
        path = kwargs.pop("path")
        reply = self.call(found.method, path, *args, **kwargs)
        assert reply.status == found.status, (reply.status, reply.body)
        assert found.model is not None
        schemas.check(found.model, reply.body, what=key)
        return reply.body

    def fails(self, key: str, status: int, *args: Any, **kwargs: Any) -> Any:
        """Call ``key`` expecting ``status``; check the error body against its documented model."""
        found = route(key)
        path = kwargs.pop("path")
        reply = self.call(found.method, path, *args, **kwargs)
        assert reply.status == status, (reply.status, reply.body)
        schemas.check(found.error_model(status), reply.body, what=f"{key} ({status})")
        return reply.body
