"""The local forge: pull requests, reviews and merges over a plain git repository.

It implements the ``Forge`` port without any server, for ``gitjit simulate``, ``gitjit demo``
and offline trials. Pull requests are real branches and merges are real merge commits, made
with plumbing only (``merge-tree --write-tree``, ``commit-tree``, a compare-and-swap
``update-ref``), so no working tree or index is ever touched. What git cannot hold (who opened
which pull request, reviews, pushers, comments) is kept as JSON in the repository's git
directory, ``<git-common-dir>/gitjit/forge.json``: written atomically under a lock, so separate
CLI calls, threads and processes can share it. Clones do not carry it, and must not need to:
an audit reads git alone.

Every time is passed in (``at``); the forge never reads the clock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.adapters.git import GitRepository
from engine.core.forge import PullRequestInfo, PullRequestState, Pushers
from engine.core.models import Login, Review, ReviewState
from engine.core.values import parse_login
from engine.errors import GitError, GitjitError

STATE_VERSION = 1
MERGE_ATTEMPTS = 5
"""Merge attempts when the base branch moves between building the merge and landing it."""
COMMITTER_NAME = "gitjit local forge"
COMMITTER_EMAIL = "local-forge@gitjit.invalid"

Gate = Callable[[PullRequestInfo], str | None]
"""Says why a pull request must not merge (a required check failing), or None to allow it."""


class MergeRefusedError(GitjitError):
    """The merge gate refused the merge; ``reason`` is its words."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"pull request #{number} was not merged: {reason}")
        self.number = number
        self.reason = reason


class LocalForge:
    """The ``Forge`` port over a local git repository, plus what a forge's users do."""

    def __init__(self, repo: GitRepository) -> None:
        self.repo = repo
        common = repo.git("rev-parse", "--path-format=absolute", "--git-common-dir")
        self.folder = Path(os.fsdecode(common.rstrip(b"\n"))) / "gitjit"
        self.path = self.folder / "forge.json"
        """Where the forge's state lives (never in the working tree, never pushed)."""
        self._lock_path = self.folder / "forge.lock"
        # flock excludes other open files, even in this process; the depth counter lets one
        # thread re-enter (a merge gate that reads the forge) without deadlocking itself.
        self._held = threading.local()
        self.marks_path = self.folder / "marks.json"
        """The reconcile heartbeat and the watchdog's last alert: written every reconcile, so
        kept apart from the pull requests (rewriting them all each run grew with their
        number)."""
        self._cache: tuple[bytes | None, dict[str, Any], dict[str, dict[str, Any]]] | None = None
        """The state as last read: the file's bytes, what they say, and its merged pull
        requests by merge commit."""

    def __repr__(self) -> str:
        return f"LocalForge({str(self.repo.root)!r})"

    # -- the Forge port --------------------------------------------------------------------

    def pull_request(self, number: int) -> PullRequestInfo:
        return self._info(_find(self._read(), number))

    def pull_requests(self) -> list[PullRequestInfo]:
        """Every pull request, by number."""
        state = self._read()
        return [self._info(record) for record in _records(state)]

    def pull_request_for_commit(self, sha: str) -> PullRequestInfo | None:
        record = self._merged().get(sha.lower())
        return None if record is None else self._info(record)

    def reviews(self, number: int) -> list[Review]:
        record = _find(self._read(), number)
        return [
            Review(
                reviewer=Login(item["reviewer"]),
                state=ReviewState(item["state"]),
                commit=item["commit"],
                submitted_at=_parse_time(item["submitted_at"]),
                is_bot=item["is_bot"],
                id=item["id"],
            )
            for item in record["reviews"]
        ]

    def review_bodies(self, number: int) -> dict[int, str]:
        """The text of each review by id (reviews() carries only what judges)."""
        return {item["id"]: item["body"] for item in _find(self._read(), number)["reviews"]}

    def pushers(self, number: int) -> Pushers:
        # Pushes are recorded by login, so every commit has someone to answer for it.
        record = _find(self._read(), number)
        return Pushers(frozenset(Login(login) for login in [record["author"], *record["pushers"]]))

    def open_pull_request(self, *, author: Login, head_ref: str, base: str, title: str,
                          body: str, at: datetime | None = None) -> PullRequestInfo:
        """Open a pull request from the existing branch ``head_ref`` into ``base``.

        ``at`` is when it was opened (kept for display only); an empty title takes the head
        commit's subject, as forges do."""
        login = _login(author, "author")
        self._check_branch_name(head_ref)
        self._check_branch_name(base)
        if head_ref == base:
            raise GitjitError(f"cannot open a pull request from {base!r} into itself: push the "
                              "change to its own branch first")
        head = self._branch_tip(head_ref)
        if head is None:
            raise GitjitError(f"branch {head_ref!r} does not exist in {self.repo.root}: create "
                              "and commit to it first (git switch -c BRANCH)")
        if self._branch_tip(base) is None:
            raise GitjitError(f"base branch {base!r} does not exist in {self.repo.root}")
        if not title:
            title = self.repo.git("log", "-1", "--format=%s", "--end-of-options", head, "--") \
                .decode("utf-8", "replace").strip() or head_ref
        with self._locked():
            state = self._load()
            for other in _records(state):
                if (other["state"] == PullRequestState.OPEN and other["head_ref"] == head_ref
                        and other["base"] == base):
                    raise GitjitError(f"pull request #{other['number']} from {head_ref!r} into "
                                      f"{base!r} is already open: push to its branch instead")
            number = state["next_number"]
            state["next_number"] = number + 1
            record: dict[str, Any] = {
                "number": number, "author": login, "base": base, "head_ref": head_ref,
                "head_sha": head, "title": title, "body": body,
                "state": PullRequestState.OPEN.value, "opened_at": _format_time(at),
                "merge_sha": None, "merged_at": None, "merged_by": None, "closed_at": None,
                "reviews": [], "pushers": [], "comments": {},
            }
            state["pull_requests"][str(number)] = record
            self._save(state)
        return self._info(record)

    def open_pull_request_for(self, head_ref: str) -> PullRequestInfo | None:
        for record in _records(self._read()):
            if record["state"] == PullRequestState.OPEN and record["head_ref"] == head_ref:
                return self._info(record)
        return None

    def comment(self, number: int, key: str, body: str) -> None:
        if not key:
            raise GitjitError("a comment needs a key (it marks the one comment to update)")
        with self._locked():
            state = self._load()
            record = _find(state, number)
            comments = record["comments"]
            if key in comments:
                comments[key]["body"] = body
            else:
                comments[key] = {"id": _next_id(state), "body": body}
            self._save(state)

    def open_pull_requests(self, base: str) -> list[PullRequestInfo]:
        return [self._info(record) for record in _records(self._read())
                if record["state"] == PullRequestState.OPEN and record["base"] == base]

    def close_pull_request(self, number: int, *, key: str, body: str, at: datetime) -> None:
        with self._locked():
            self.comment(number, key, body)
            if self.pull_request(number).state is PullRequestState.OPEN:
                self.close(number, at=at)

    def comments(self, number: int) -> dict[str, str]:
        """Our comments on the pull request by key, in the order they were first made."""
        record = _find(self._load(), number)
        return {key: item["body"] for key, item in record["comments"].items()}

    # -- what the forge's users do ---------------------------------------------------------

    def submit_review(self, number: int, reviewer: str, state: ReviewState, *, at: datetime,
                      commit: str | None = None, is_bot: bool = False, body: str = "") -> Review:
        """``reviewer`` reviews the pull request on ``commit`` (default: its current head).

        A login ending in '[bot]' is a bot whatever ``is_bot`` says. DISMISSED stands for the
        reviewer's earlier review being dismissed, which is how the forge reports it."""
        if state is ReviewState.PENDING:
            raise GitjitError("a PENDING review is not submitted yet: submit APPROVED, "
                              "CHANGES_REQUESTED, COMMENTED or DISMISSED")
        login = _login(reviewer, "reviewer")
        when = _format_time(at)
        with self._locked():
            data = self._load()
            record = _find(data, number)
            sha = self.repo.resolve(commit) if commit else self._info(record).head_sha
            review = Review(Login(login), ReviewState(state), sha, _parse_time(when),
                            is_bot or login.endswith("[bot]"), _next_id(data))
            record["reviews"].append({
                "id": review.id, "reviewer": login, "state": review.state.value, "commit": sha,
                "submitted_at": when, "is_bot": review.is_bot, "body": body})
            self._save(data)
        return review

    def record_push(self, number: int, login: str) -> None:
        """``login`` pushed to the pull request's branch: their approvals no longer count."""
        who = _login(login, "pusher")
        with self._locked():
            state = self._load()
            record = _find(state, number)
            _require_open(record, "pushes to its branch no longer change it")
            if who != record["author"] and who not in record["pushers"]:
                record["pushers"].append(who)
            self._save(state)

    def merge(self, number: int, merged_by: str, *, at: datetime,
              gate: Gate | None = None) -> PullRequestInfo:
        """Merge the pull request with a real merge commit on its base, dated ``at``.

        ``gate`` (a required check) may refuse: MergeRefusedError. An admin merge passes none.
        The head merged is the one the gate judged, even if the branch moves meanwhile."""
        who = _login(merged_by, "merger")
        when = _format_time(at)
        with self._locked():
            state = self._load()
            record = _find(state, number)
            _require_open(record, "only open pull requests can be merged")
            info = self._info(record)
            if gate is not None:
                reason = gate(info)
                if reason is not None:
                    raise MergeRefusedError(number, reason)
                # The gate may have written (a verdict comment): build on what it wrote.
                state = self._load()
                record = _find(state, number)
                _require_open(record, "only open pull requests can be merged")
            merge_sha = self._land(info, who, at)
            record.update(state=PullRequestState.MERGED.value, head_sha=info.head_sha,
                          merge_sha=merge_sha, merged_at=when, merged_by=who)
            self._save(state)
        return self._info(record)

    def close(self, number: int, *, at: datetime) -> PullRequestInfo:
        """Close the pull request without merging; its head stays what it was."""
        when = _format_time(at)
        with self._locked():
            state = self._load()
            record = _find(state, number)
            _require_open(record, "only open pull requests can be closed")
            record.update(state=PullRequestState.CLOSED.value,
                          head_sha=self._info(record).head_sha, closed_at=when)
            self._save(state)
        return self._info(record)

    # -- the reconcile heartbeat and the watchdog's marks ----------------------------------

    def record_heartbeat(self, at: datetime) -> None:
        """Reconcile succeeded at ``at`` (what GitHub's gitjit/heartbeat check run says)."""
        self._stamp("heartbeat", at)

    def last_heartbeat(self) -> datetime | None:
        return self._mark("heartbeat")

    def record_watchdog_alert(self, at: datetime) -> None:
        """The watchdog told the channels of a stalled reconcile at ``at``."""
        self._stamp("watchdog_alert", at)

    def last_watchdog_alert(self) -> datetime | None:
        return self._mark("watchdog_alert")

    def _marks(self) -> dict[str, Any]:
        try:
            raw = self.marks_path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise GitjitError(f"cannot read the local forge's marks {self.marks_path}: "
                              f"{exc.strerror}") from exc
        try:
            marks = json.loads(raw)
        except ValueError as exc:
            raise GitjitError(f"the local forge's marks {self.marks_path} are not valid JSON "
                              f"({exc}); delete the file (reconcile writes it again)") from exc
        if not isinstance(marks, dict):
            raise GitjitError(f"the local forge's marks {self.marks_path} are not a JSON "
                              "object; delete the file (reconcile writes it again)")
        return marks

    def _mark(self, key: str) -> datetime | None:
        """The newer of the marks file's and forge.json's (where older versions kept it)."""
        found = [t for t in (_parse_time(self._marks().get(key)),
                             _parse_time(self._read().get(key))) if t is not None]
        return max(found, default=None)

    def _stamp(self, key: str, at: datetime) -> None:
        with self._locked():
            previous = self._mark(key)
            if previous is None or at > previous:
                self._save({**self._marks(), key: _format_time(at)}, self.marks_path)

    # -- git -------------------------------------------------------------------------------

    def _check_branch_name(self, name: str) -> None:
        result = self.repo.run("check-ref-format", f"refs/heads/{name}", ok_codes=(0, 1))
        if result.returncode != 0 or name.startswith("-"):
            raise GitjitError(f"{name!r} is not a valid branch name: give a short branch name "
                              "such as 'main' or 'request/ana-reports'")

    def checked_out(self, branch: str) -> bool:
        """Whether ``branch`` is this working tree's current branch: a merge into it leaves
        the working tree and index at the old tip, since the forge never touches them."""
        result = self.repo.run("symbolic-ref", "-q", "HEAD", ok_codes=(0, 1))
        return result.stdout.decode("utf-8", "replace").strip() == f"refs/heads/{branch}"

    def _branch_tip(self, name: str) -> str | None:
        return self.repo.ref_target(f"refs/heads/{name}")

    def _land(self, info: PullRequestInfo, merged_by: str, at: datetime) -> str:
        """Build the merge on the base's tip and move the base to it, retrying if it moved."""
        ref = f"refs/heads/{info.base}"
        message = f"Merge pull request #{info.number} from {info.head_ref}\n\n{info.title}\n"
        stamp = f"@{int(at.timestamp())} +0000"
        # The merger authors the merge and the forge commits it, as on GitHub; neither depends
        # on the local git configuration.
        env = {"GIT_AUTHOR_NAME": merged_by,
               "GIT_AUTHOR_EMAIL": f"{merged_by}@users.noreply.gitjit.invalid",
               "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_NAME": COMMITTER_NAME,
               "GIT_COMMITTER_EMAIL": COMMITTER_EMAIL, "GIT_COMMITTER_DATE": stamp}
        for attempt in range(MERGE_ATTEMPTS):
            base_tip = self._branch_tip(info.base)
            if base_tip is None:
                raise GitjitError(f"cannot merge pull request #{info.number}: its base branch "
                                  f"{info.base!r} no longer exists")
            tree = self._merge_tree(info, base_tip)
            commit = self.repo.commit_tree(tree, [base_tip, info.head_sha], message, env=env)
            if self.repo.update_ref(ref, commit, base_tip,
                                    message=f"merge pull request #{info.number}"):
                return commit
            # Someone moved the base meanwhile: merge again onto their commit.
            time.sleep(0.01 * (attempt + 1))
        raise GitError(f"could not merge pull request #{info.number}: {info.base!r} kept "
                       f"moving during {MERGE_ATTEMPTS} attempts; run the merge again")

    def _merge_tree(self, info: PullRequestInfo, base_tip: str) -> str:
        result = self.repo.run("merge-tree", "--write-tree", "--name-only", "-z",
                               "--no-messages", base_tip, info.head_sha, ok_codes=(0, 1))
        fields = result.stdout.split(b"\0")
        tree = fields[0].decode("ascii", "replace").strip()
        if result.returncode == 1:
            paths = sorted({os.fsdecode(f) for f in fields[1:] if f})
            raise GitjitError(
                f"pull request #{info.number} cannot be merged: {info.head_ref!r} conflicts with "
                f"{info.base!r} in {', '.join(paths) or 'some files'}; merge or rebase "
                f"{info.base!r} into the branch, resolve the conflicts and push again")
        return tree

    # -- state -----------------------------------------------------------------------------

    def _info(self, record: Mapping[str, Any]) -> PullRequestInfo:
        head = record["head_sha"]
        if record["state"] == PullRequestState.OPEN:
            # While open, the head is wherever the branch is now: a push changes it. A deleted
            # branch leaves the last head we saw.
            head = self._branch_tip(record["head_ref"]) or head
        merged_by = record["merged_by"]
        return PullRequestInfo(
            number=record["number"],
            author=Login(record["author"]),
            base=record["base"],
            head_sha=head,
            head_ref=record["head_ref"],
            state=PullRequestState(record["state"]),
            title=record["title"],
            body=record["body"],
            merge_sha=record["merge_sha"],
            merged_at=_parse_time(record["merged_at"]),
            merged_by=Login(merged_by) if merged_by else None,
            opened_at=_parse_time(record["opened_at"]),
        )

    def opened_at(self, number: int) -> datetime | None:
        return _parse_time(_find(self._read(), number)["opened_at"])

    def closed_at(self, number: int) -> datetime | None:
        return _parse_time(_find(self._read(), number)["closed_at"])

    def _load(self) -> dict[str, Any]:
        return self._parse(self._raw())

    def _raw(self) -> bytes | None:
        # os.replace makes every write atomic, so a read needs no lock: it sees one version.
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise GitjitError(f"cannot read the local forge's state {self.path}: "
                              f"{exc.strerror}") from exc

    def _parse(self, raw: bytes | None) -> dict[str, Any]:
        if raw is None:
            return {"version": STATE_VERSION, "next_number": 1, "next_id": 1,
                    "pull_requests": {}}
        try:
            state = json.loads(raw)
        except ValueError as exc:
            raise GitjitError(f"the local forge's state {self.path} is not valid JSON ({exc}); "
                              "restore it, or delete it to start with no pull requests") from exc
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise GitjitError(f"the local forge's state {self.path} is not version "
                              f"{STATE_VERSION}; it was written by another gitjit version")
        problem = state_problem(state)
        if problem is not None:
            raise GitjitError(f"the local forge's state {self.path} is damaged: {problem}; "
                              "fix that entry (docs/local-forge.md describes the file) or "
                              "delete the file to start with no pull requests")
        return state

    def _read(self) -> dict[str, Any]:
        """The state for reading only (never change it): parsed once per content of the
        file (reading the bytes is cheap, parsing thousands of pull requests is not). The
        lifecycle asks for one pull request at a time; parsing them all each time grew with
        the forge's history."""
        return self._cached()[1]

    def _merged(self) -> dict[str, dict[str, Any]]:
        """Merged pull requests by merge commit (the first, by number, for a commit)."""
        return self._cached()[2]

    def _cached(self) -> tuple[bytes | None, dict[str, Any], dict[str, dict[str, Any]]]:
        raw = self._raw()
        cache = self._cache
        if cache is None or cache[0] != raw:
            state = self._parse(raw)
            merged: dict[str, dict[str, Any]] = {}
            for record in _records(state):
                if record["state"] == PullRequestState.MERGED and record["merge_sha"]:
                    merged.setdefault(record["merge_sha"], record)
            cache = self._cache = (raw, state, merged)
        return cache

    def _save(self, state: Mapping[str, Any], path: Path | None = None) -> None:
        path = path or self.path
        data = json.dumps(state, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        handle, temp = tempfile.mkstemp(prefix=".forge-", suffix=".json", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @contextmanager
    def _locked(self) -> Iterator[None]:
        depth: int = getattr(self._held, "depth", 0)
        if depth:
            self._held.depth = depth + 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


# -- validating the state on load ------------------------------------------------------------
#
# The file is ours, but it sits in .git where anyone can edit it: every field is checked before
# any is used, so a hand edit is a clear error, never a traceback, and a login is never read
# in a form that would compare unequal to the same person (a reviewer 'Bob' on bob's request).

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_STATES = frozenset(s.value for s in PullRequestState)
_REVIEW_STATES = frozenset(s.value for s in ReviewState) - {ReviewState.PENDING.value}


class _Bad(Exception):
    """Where the state is wrong, and how."""


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise _Bad(f"{where}: {what}")


def _int(value: Any, where: str, minimum: int = 1) -> int:
    _need(type(value) is int and value >= minimum, where,
          f"{json.dumps(value)} is not a whole number of at least {minimum}")
    result: int = value
    return result


def _str(value: Any, where: str, *, empty: bool = True) -> str:
    _need(isinstance(value, str) and (empty or value != ""), where,
          f"{json.dumps(value)} is not {'a' if empty else 'a non-empty'} string")
    result: str = value
    return result


def _time_field(value: Any, where: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    text = _str(value, where, empty=False)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{where}: {json.dumps(text)} is not a time (ISO 8601 with an offset, as "
                   "2026-12-01T09:00:00+00:00)") from None
    _need(parsed.tzinfo is not None, where, f"{json.dumps(text)} has no UTC offset")


def _login_field(value: Any, where: str, *, bot: bool = False) -> None:
    text = _str(value, where, empty=False)
    name = text.removesuffix("[bot]") if bot else text
    try:
        login = parse_login(name)
    except ValueError as exc:
        raise _Bad(f"{where}: {exc}") from None
    _need(login == name, where, f"{json.dumps(text)} must be written in lower case "
          f"({json.dumps(text.lower())}): logins are compared without regard to case")


def _sha(value: Any, where: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    _need(isinstance(value, str) and _SHA.fullmatch(value) is not None, where,
          f"{json.dumps(value)} is not a full commit id (40 lower-case hex digits)")


def _keys(value: Any, where: str, required: frozenset[str],
          optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    _need(isinstance(value, dict), where, "is not a JSON object")
    missing = sorted(required - value.keys())
    _need(not missing, where, f"lacks {', '.join(missing)}")
    unknown = sorted(value.keys() - required - optional)
    _need(not unknown, where, f"has unknown key(s) {', '.join(unknown)}")
    result: dict[str, Any] = value
    return result


_TOP = frozenset({"version", "next_number", "next_id", "pull_requests"})
_TOP_OPTIONAL = frozenset({"heartbeat", "watchdog_alert"})
_RECORD = frozenset({"number", "author", "base", "head_ref", "head_sha", "title", "body",
                     "state", "opened_at", "merge_sha", "merged_at", "merged_by", "closed_at",
                     "reviews", "pushers", "comments"})
_REVIEW = frozenset({"id", "reviewer", "state", "commit", "submitted_at", "is_bot", "body"})


def state_problem(state: Mapping[str, Any]) -> str | None:
    """What is wrong with a loaded state (the first problem, with where it is), or None."""
    try:
        _check_state(state)
    except _Bad as bad:
        return str(bad)
    return None


def _check_state(state: Mapping[str, Any]) -> None:
    top = _keys(state, "the top level", _TOP, _TOP_OPTIONAL)
    next_number = _int(top["next_number"], "next_number")
    next_id = _int(top["next_id"], "next_id")
    for key in _TOP_OPTIONAL:
        _time_field(top.get(key), key, optional=True)
    pulls = top["pull_requests"]
    _need(isinstance(pulls, dict), "pull_requests", "is not a JSON object")
    ids: set[int] = set()
    for key, record in pulls.items():
        where = f"pull_requests[{json.dumps(key)}]"
        item = _keys(record, where, _RECORD)
        number = _int(item["number"], f"{where}.number")
        _need(key == str(number), f"{where}.number", f"{number} is not its key {key}")
        _need(number < next_number, "next_number",
              f"{next_number} is not above pull request #{number}")
        _login_field(item["author"], f"{where}.author", bot=True)
        for name in ("base", "head_ref"):
            _str(item[name], f"{where}.{name}", empty=False)
        for name in ("title", "body"):
            _str(item[name], f"{where}.{name}")
        _need(item["state"] in _STATES, f"{where}.state",
              f"{json.dumps(item['state'])} is not one of {', '.join(sorted(_STATES))}")
        merged = item["state"] == PullRequestState.MERGED.value
        _sha(item["head_sha"], f"{where}.head_sha")
        _sha(item["merge_sha"], f"{where}.merge_sha", optional=not merged)
        _time_field(item["opened_at"], f"{where}.opened_at", optional=True)
        _time_field(item["merged_at"], f"{where}.merged_at", optional=not merged)
        _time_field(item["closed_at"], f"{where}.closed_at", optional=True)
        if merged or item["merged_by"] is not None:
            _login_field(item["merged_by"], f"{where}.merged_by", bot=True)
        _need(isinstance(item["pushers"], list), f"{where}.pushers", "is not a list")
        for index, login in enumerate(item["pushers"]):
            _login_field(login, f"{where}.pushers[{index}]", bot=True)
        _need(isinstance(item["reviews"], list), f"{where}.reviews", "is not a list")
        for index, raw in enumerate(item["reviews"]):
            at = f"{where}.reviews[{index}]"
            review = _keys(raw, at, _REVIEW)
            ids.add(_int(review["id"], f"{at}.id"))
            _login_field(review["reviewer"], f"{at}.reviewer", bot=True)
            _need(review["state"] in _REVIEW_STATES, f"{at}.state",
                  f"{json.dumps(review['state'])} is not one of "
                  f"{', '.join(sorted(_REVIEW_STATES))}")
            _sha(review["commit"], f"{at}.commit")
            _time_field(review["submitted_at"], f"{at}.submitted_at", optional=False)
            _need(type(review["is_bot"]) is bool, f"{at}.is_bot",
                  f"{json.dumps(review['is_bot'])} is not true or false")
            _str(review["body"], f"{at}.body")
        _need(isinstance(item["comments"], dict), f"{where}.comments", "is not a JSON object")
        for name, raw in item["comments"].items():
            at = f"{where}.comments[{json.dumps(name)}]"
            comment = _keys(raw, at, frozenset({"id", "body"}))
            ids.add(_int(comment["id"], f"{at}.id"))
            _str(comment["body"], f"{at}.body")
    _need(all(i < next_id for i in ids), "next_id",
          f"{next_id} is not above every review and comment id (the highest is "
          f"{max(ids, default=0)})")


def _records(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return sorted(state["pull_requests"].values(), key=lambda record: record["number"])


def _find(state: Mapping[str, Any], number: int) -> dict[str, Any]:
    record = state["pull_requests"].get(str(number))
    if record is None:
        known = len(state["pull_requests"])
        hint = f"numbers 1 to {known} exist" if known else "none has been opened yet"
        raise GitjitError(f"there is no pull request #{number} in the local forge ({hint}); "
                          "see 'gitjit local list'")
    result: dict[str, Any] = record
    return result


def _require_open(record: Mapping[str, Any], why: str) -> None:
    if record["state"] != PullRequestState.OPEN:
        raise GitjitError(f"pull request #{record['number']} is {record['state']}: {why}")


def _next_id(state: dict[str, Any]) -> int:
    """Review and comment ids share one counter, as a forge's ids do."""
    value: int = state["next_id"]
    state["next_id"] = value + 1
    return value


def _login(text: str, role: str) -> str:
    name = text.removesuffix("[bot]")
    try:
        login = parse_login(name)
    except ValueError as exc:
        raise GitjitError(f"invalid {role}: {exc}") from None
    return login + ("[bot]" if name != text else "")


def _format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise GitjitError(f"time {value.isoformat()} has no UTC offset; pass an aware time")
    return value.astimezone(UTC).isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
