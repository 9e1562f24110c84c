"""gitjit simulate SCENARIO and gitjit demo: a timeline run for real, with no real systems.

The access repository's policies/ (and schemas/) are copied into a new git repository; a local
forge, a ledger and the lifecycle commands run on it exactly as they do on a real access
repository, except that every policy's target is the recording target (a JSON file), so
nothing outside the temporary folder is touched. Each step calls what the CLI commands call:
the local forge's open, review, push and merge (merges gated by ``judge``, like
``gitjit local merge``), ``activate`` and ``reconcile``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

import engine
from engine.actions.request import canonical_path as action_canonical_path
from engine.adapters.git import GitRepository, scrubbed_env
from engine.adapters.ledger import Ledger
from engine.adapters.localforge import LocalForge, MergeRefusedError
from engine.adapters.schemas import packaged_folder, packaged_schema
from engine.adapters.signing import CommitSigner, generate_key, local_key_path
from engine.commands.audit import read_lifecycles, render_text
from engine.commands.verdict import Verdict, judge
from engine.core import scenario as sc
from engine.core.changes import Oversized
from engine.core.decision import Decision, Kind, Outcome
from engine.core.findings import Finding
from engine.core.forge import PullRequestInfo, PullRequestState
from engine.core.grants import GRANTS_DIR, canonical_path, grant_id
from engine.core.ledger import OUTCOME_EVENTS, Event, Record
from engine.core.models import Login, ReviewState
from engine.core.signers import SIGNERS_PATH, parse_allowed_signers
from engine.core.strictyaml import Limits, LoadError, load
from engine.errors import GitjitError, UsageError
from engine.lifecycle.activation import activate
from engine.lifecycle.context import Lifecycle, Report
from engine.lifecycle.reconciliation import reconcile
from engine.reporters import jsonout
from engine.targets.recording import RecordingTarget
from engine.targets.registry import catalog

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SCENARIO = 2
JSON_VERSION = 1
FORMATS = ("json", "text")
BRANCH = "main"
SCENARIO_LIMITS = Limits(max_bytes=512 * 1024,
                         advice="split the timeline into several scenarios")
"""A scenario is configuration-sized, not grant-sized."""
GITJIT = "gitjit"
"""Who makes gitjit's own commits (ledger records, removals) in the simulated repository."""
DEMO = "scenarios/demo.yaml"
STAND_IN = "simulation"
"""The stand-in connection of a kept simulation's policies that named none."""
STAND_IN_MESSAGE = """\
Simulation: every target is the recording stand-in

The simulation ran against the access repository's own policies and settings, with every
target replaced by the recording target. This commit writes that replacement into the kept
copy: each policy's target and each connection is the recording target (recording.json next
to this repository), so a gitjit command run here never reaches a real system.
"""

_REVIEW_STATES = {"approve": ReviewState.APPROVED, "request-changes": ReviewState.CHANGES_REQUESTED,
                  "comment": ReviewState.COMMENTED, "dismiss": ReviewState.DISMISSED}
_REVIEW_WORDS = {"approve": "approves", "request-changes": "requests changes on",
                 "comment": "comments on", "dismiss": "has their review dismissed on"}


@dataclass(frozen=True)
class SimulateOptions:
    scenario: Path
    workdir: Path | None
    format: str


@dataclass(frozen=True)
class DemoOptions:
    workdir: Path | None


class ScenarioFileError(UsageError):
    """The scenario file cannot be used; ``findings`` say where and why."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.render() for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class StepOutcome:
    step: sc.Step
    at: datetime
    text: str
    result: sc.Result
    checks: tuple[sc.Check, ...]
    pull_request: int | None = None

    @property
    def ok(self) -> bool:
        return not self.result.failures and all(c.ok for c in self.checks)


# -- entry points ----------------------------------------------------------------------------


def run(options: SimulateOptions) -> int:
    if options.format not in FORMATS:
        raise UsageError(f"unknown format {options.format!r}; use text or json")
    try:
        raw = _read_capped(options.scenario, SCENARIO_LIMITS.max_bytes)
    except OSError as exc:
        raise UsageError(f"cannot read the scenario {options.scenario}: {exc.strerror}") \
            from exc
    label = str(options.scenario)
    try:
        scenario = load_scenario(raw, label)
        repository = find_repository(scenario, options.scenario, raw)
    except ScenarioFileError as exc:
        _print_findings(exc.findings, options.format)
        return EXIT_BAD_SCENARIO
    schemas = repository / "schemas"
    text = options.format == "text"
    with _workdir(options.workdir) as root:
        if text:
            _emit(f"scenario {label}: {scenario.description}")
            _emit(f"access repository: {repository}; simulated in {root}")
        sim = Simulation(root, repository / "policies", schemas if schemas.is_dir() else None,
                         scenario)
        outcomes = sim.run(_emit if text else None)
        if options.workdir is not None:
            sim.stand_in()
    if text:
        _emit(summary(outcomes))
    else:
        print(render_json(scenario, outcomes), end="")
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def run_demo(options: DemoOptions) -> int:
    raw = resources.files(engine).joinpath(DEMO).read_bytes()
    scenario = load_scenario(raw, f"{DEMO} (packaged with gitjit)")
    policies = packaged_folder("examples/policies", "policies")
    with _workdir(options.workdir) as root:
        _emit("gitjit demo: a request for superuser on the production database, from pull")
        _emit("request to revocation, run by the real engine on a throwaway repository with")
        _emit("a local forge and a recording target (nothing real is touched).")
        _emit(f"scenario: {scenario.description}")
        _emit(f"workdir: {root}")
        _emit("")
        sim = Simulation(root, policies, None, scenario)
        outcomes = sim.run(_emit)
        if options.workdir is not None:
            sim.stand_in()
        _emit(summary(outcomes))
        _emit("")
        _emit("What the auditor sees ('gitjit audit', from git alone):")
        _emit("")
        for line in render_text(read_lifecycles(sim.repo, BRANCH)).splitlines():
            _emit(f"  {line}" if line else "")
        _emit("")
        _emit(_next_steps(options.workdir, root))
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def _next_steps(workdir: Path | None, root: Path) -> str:
    lines = ["Try next:"]
    if workdir is None:
        lines.append("  gitjit demo --workdir /tmp/gitjit-demo   keep the demo's repository to "
                     "look around in it")
    else:
        repo = root / "repo"
        lines += [f"  gitjit local list --repo {repo}          the pull requests",
                  f"  gitjit audit --repo {repo}               every grant's lifecycle",
                  f"  gitjit audit verify --repo {repo}        check the ledger",
                  f"  git -C {repo} log --oneline --graph --all   the history gitjit made"]
    lines += ["  gitjit simulate my-scenario.yaml         your own timeline against your own "
              "policies (docs/simulate.md)",
              "  gitjit explain prod-db-admin             a policy in plain words"]
    return "\n".join(lines)


def _read_capped(path: Path, limit: int) -> bytes:
    """The file, or only its first ``limit`` + 1 bytes when it is larger (the loader refuses
    it with its size): a huge file is never held whole."""
    with path.open("rb") as source:
        start = source.read(limit + 1)
        if len(start) > limit:
            return Oversized(start, os.fstat(source.fileno()).st_size)
    return start


def _emit(line: str) -> None:
    print(line, flush=True)


def _print_findings(findings: list[Finding], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"version": JSON_VERSION, "ok": False,
                          "findings": [jsonout.finding(f) for f in findings]}, indent=2))
        return
    for finding in findings:
        print(finding.render())
    print(f"the scenario cannot run: {len(findings)} "
          f"{'problem' if len(findings) == 1 else 'problems'}")


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is None:
        with tempfile.TemporaryDirectory(prefix="gitjit-simulate-") as temp:
            yield Path(temp)
        return
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"--workdir {path} is not an empty folder; give a new or empty one")
    path.mkdir(parents=True, exist_ok=True)
    yield path.resolve()


# -- loading ---------------------------------------------------------------------------------


def load_scenario(raw: bytes, label: str) -> sc.Scenario:
    """Parse a scenario file; ScenarioFileError with findings at file and line."""
    try:
        doc = load(raw, label, SCENARIO_LIMITS)
    except LoadError as exc:
        raise ScenarioFileError([exc.finding]) from exc
    scenario, findings = sc.parse(doc, packaged_schema(sc.KIND))
    if scenario is None:
        raise ScenarioFileError(findings)
    return scenario


def find_repository(scenario: sc.Scenario, path: Path, raw: bytes) -> Path:
    """The access repository whose configuration the scenario runs against."""
    here = path.resolve().parent
    if scenario.repository is not None:
        chosen = (here / scenario.repository).resolve()
        if not (chosen / "policies").is_dir():
            line = load(raw, scenario.path, SCENARIO_LIMITS).line("repository")
            raise ScenarioFileError([Finding(
                scenario.path, line, "config.missing",
                f"repository {scenario.repository!r} ({chosen}) has no policies/ folder; give "
                "the path of an access repository, relative to the scenario file")])
        return chosen
    for candidate in [here, *here.parents]:
        if (candidate / "policies").is_dir():
            return candidate
    raise ScenarioFileError([Finding(
        scenario.path, 0, "config.missing",
        f"no folder above {here} has policies/; add 'repository: PATH' (relative to the "
        "scenario file) naming the access repository to simulate")])


# -- the simulation --------------------------------------------------------------------------


class Simulation:
    """A throwaway access repository with a local forge, a ledger and a recording target."""

    def __init__(self, root: Path, policies: Traversable, schemas: Traversable | None,
                 scenario: sc.Scenario) -> None:
        self.scenario = scenario
        self.now = scenario.start
        self.root = root
        self.recording = root / "recording.json"
        path = root / "repo"
        _copy(policies, path / "policies")
        if schemas is not None:
            _copy(schemas, path / "schemas")
        _init(path)
        self.repo = GitRepository(path)
        # The simulation's own lifecycle key: its public half replaces whatever signers the
        # copied configuration lists, since only this throwaway key signs here.
        key = local_key_path(self.repo)
        (path / SIGNERS_PATH).write_text(generate_key(key) + "\n", encoding="ascii")
        with _acting(GITJIT, self.now):
            self.repo.git("add", "--all")
            tree = self.repo.git("write-tree").decode("ascii").strip()
            commit = self.repo.commit_tree(tree, [], "Access configuration\n")
            self.repo.update_ref(f"refs/heads/{BRANCH}", commit, None, message="simulate")
        self.forge = LocalForge(self.repo)
        # Judged as the real verdict judges, targets included: a policy whose provider is not
        # installed is denied here too, although the simulation applies nothing to it.
        self.targets = catalog()
        signers, _ = parse_allowed_signers((path / SIGNERS_PATH).read_bytes())
        self.ledger = Ledger(self.repo, signers=signers, signer=CommitSigner(key))
        recording = {"path": str(self.recording)}
        self.life = Lifecycle(self.repo, self.forge, self.ledger, BRANCH,
                              target_factory=lambda _connection: RecordingTarget(recording),
                              signer=CommitSigner(key))

    def run(self, emit: Callable[[str], None] | None) -> list[StepOutcome]:
        outcomes: list[StepOutcome] = []
        try:
            for step in self.scenario.steps:
                outcome = self.step(step)
                outcomes.append(outcome)
                if emit is not None:
                    emit(_line(self.scenario.start, outcome))
                    for failure in outcome.result.failures:
                        emit(f"{'':7}FAILED: {failure}")
                    for check in outcome.checks:
                        emit(f"{'':7}{check.render()}")
        finally:
            # Leave the checkout at the branch tip for whoever looks at --workdir later.
            self.repo.run("reset", "--quiet", "--hard", BRANCH, ok_codes=(0, 1, 128))
        return outcomes

    def stand_in(self) -> None:
        """Make the kept repository's configuration say what the simulation did: every
        policy's target and every connection become the recording stand-in (this
        simulation's recording.json), in one last commit on main. A gitjit command run there
        later (reconcile, activate) then touches the recording, never the real systems the
        copied settings named; the commit message and each file's first line say so."""
        path = self.root / "repo"
        settings_path = path / "policies" / "settings.yaml"
        stand_in = {"provider": "recording", "path": str(self.recording)}
        names: set[str] = set()
        for file in sorted((path / "policies").rglob("*.y*ml")):
            document = _yaml(file)
            target = document.get("target") if document is not None else None
            if document is None or not isinstance(target, dict) or "provider" not in target:
                continue
            was = target["provider"]
            target["provider"] = "recording"
            target.setdefault("connection", STAND_IN)
            names.add(str(target["connection"]))
            _write_yaml(file, document, f"its target was provider {was}")
        settings = _yaml(settings_path) or {"apiVersion": "gitjit/v1", "kind": "Settings"}
        connections = settings.get("connections")
        names |= set(connections) if isinstance(connections, dict) else set()
        settings["connections"] = {name: dict(stand_in) for name in sorted(names)}
        _write_yaml(settings_path, settings, "its connections named real systems")
        with _acting(GITJIT, self.now):
            tip = self.repo.resolve(BRANCH)
            self.repo.git("read-tree", tip)
            self.repo.git("add", "--all", "policies")
            tree = self.repo.git("write-tree").decode("ascii").strip()
            commit = self.repo.commit_tree(tree, [tip], STAND_IN_MESSAGE)
            if not self.repo.update_ref(f"refs/heads/{BRANCH}", commit, tip,
                                        message="simulate: stand-in targets"):
                raise GitjitError(f"{BRANCH} moved while the simulation ended; run again")
        self.repo.run("reset", "--quiet", "--hard", BRANCH, ok_codes=(0, 1, 128))

    def step(self, step: sc.Step) -> StepOutcome:
        at = self.now
        before = self._snapshot()
        try:
            with _acting(GITJIT, at):
                text, partial, number = self._do(step.action)
        except GitjitError as exc:
            raise UsageError(f"{self.scenario.path}:{step.line}: step {step.number} "
                             f"({step.name}): {exc}") from exc
        after = self._snapshot()
        result = sc.Result(
            verdict=partial.verdict, missing=partial.missing, findings=partial.findings,
            merged=partial.merged, failures=partial.failures,
            active=tuple(sorted(after.active)),
            ledger=tuple(f"{r.event} {r.grant_id}" for r in after.records[len(before.records):]),
            removed=tuple(sorted(before.grants - after.grants)),
        )
        return StepOutcome(step, at, text, result, tuple(sc.check(step.expect, result)), number)

    # -- actions -------------------------------------------------------------------------

    def _do(self, action: sc.Action) -> tuple[str, sc.Result, int | None]:
        if isinstance(action, sc.Request):
            return self._request(action)
        if isinstance(action, sc.RequestAction):
            return self._request_action(action)
        if isinstance(action, sc.Review):
            return self._review(action)
        if isinstance(action, sc.Push):
            return self._push(action)
        if isinstance(action, sc.Merge):
            return self._merge(action)
        if isinstance(action, sc.Advance):
            self.now += action.by
            return f"+{action.text}: the clock reads {_clock(self.now)}", sc.Result(), None
        if isinstance(action, sc.Activate | sc.Reconcile):
            command = activate if isinstance(action, sc.Activate) else reconcile
            text, failures = self._lifecycle(command)
            return text, sc.Result(failures=failures), None
        if isinstance(action, sc.Relinquish):
            return self._delete(action.login, action.grant, "relinquish", ())
        return self._delete(action.login, action.grant, "revoke", action.approvers)

    def _request(self, action: sc.Request) -> tuple[str, sc.Result, int]:
        path = canonical_path(action.policy, action.login, self.now)
        gid = grant_id(path)
        tip = self.repo.resolve(BRANCH)
        if self.repo.tree(tip).exists(path):
            raise GitjitError(f"{path} is on {BRANCH} already; advance the clock before "
                              "the same person requests the same policy again")
        branch = f"request/{gid}"
        blob = self.repo.git("hash-object", "-w", "--stdin", stdin=grant_yaml(action))
        self.repo.git("read-tree", tip)
        self.repo.git("update-index", "--add", "--cacheinfo",
                      f"100644,{blob.decode('ascii').strip()},{path}")
        title = f"Request {action.policy} for {action.duration}"
        number = self._open(action.login, branch, tip, title, action.justification)
        verdict = self._judge(self.forge.pull_request(number))
        text = (f"{action.login} asks {action.policy} for {action.duration} (PR #{number}): "
                f"{describe(verdict.decision)}")
        return text, _verdict_result(verdict.decision), number

    def _request_action(self, action: sc.RequestAction) -> tuple[str, sc.Result, int]:
        path = action_canonical_path(action.policy, action.login, self.now)
        tip = self.repo.resolve(BRANCH)
        if self.repo.tree(tip).exists(path):
            raise GitjitError(f"{path} is on {BRANCH} already; advance the clock before the "
                              "same person asks for an action of the same policy again")
        blob = self.repo.git("hash-object", "-w", "--stdin", stdin=action_yaml(action))
        self.repo.git("read-tree", tip)
        self.repo.git("update-index", "--add", "--cacheinfo",
                      f"100644,{blob.decode('ascii').strip()},{path}")
        what = f"runbook {action.runbook}" if action.runbook else "SQL"
        number = self._open(action.login, f"action/{path.removesuffix('.yaml')}", tip,
                            f"Run {what} of {action.policy}", action.justification)
        verdict = self._judge(self.forge.pull_request(number))
        text = (f"{action.login} asks to run {what} of {action.policy} (PR #{number}): "
                f"{describe(verdict.decision)}")
        return text, _verdict_result(verdict.decision), number

    def _review(self, action: sc.Review) -> tuple[str, sc.Result, int]:
        number = self._number(action.pr)
        self.forge.submit_review(number, action.login, _REVIEW_STATES[action.state],
                                 at=self.now, is_bot=action.bot)
        verdict = self._judge(self.forge.pull_request(number))
        who = f"{action.login} (bot)" if action.bot else action.login
        text = (f"{who} {_REVIEW_WORDS[action.state]} PR #{number}: "
                f"{describe(verdict.decision)}")
        return text, _verdict_result(verdict.decision), number

    def _push(self, action: sc.Push) -> tuple[str, sc.Result, int]:
        number = self._number(action.pr)
        info = self.forge.pull_request(number)
        if info.state is not PullRequestState.OPEN:
            raise GitjitError(f"pull request #{number} is {info.state.value}: only an open "
                              "pull request's branch can be pushed to")
        # Grants are data: the push adds an empty commit, which only moves the head.
        commit = self.repo.commit_tree(f"{info.head_sha}^{{tree}}", [info.head_sha],
                                       f"Update from {action.login}\n",
                                       env=_identity(action.login, self.now))
        if not self.repo.update_ref(f"refs/heads/{info.head_ref}", commit, info.head_sha,
                                    message=f"push by {action.login}"):
            raise GitjitError(f"branch {info.head_ref!r} moved during the push; run again")
        self.forge.record_push(number, action.login)
        verdict = self._judge(self.forge.pull_request(number))
        text = (f"{action.login} pushes a commit to PR #{number}: "
                f"{describe(verdict.decision)}")
        return text, _verdict_result(verdict.decision), number

    def _merge(self, action: sc.Merge) -> tuple[str, sc.Result, int]:
        number = self._number(action.pr)
        merged, verdict = self._gated_merge(number, action.login, action.admin)
        how = " as admin" if action.admin else ""
        text = f"{action.login} merges PR #{number}{how}: "
        if not merged:
            text += f"refused -- the verdict is {describe(verdict.decision)}"
        elif action.admin and verdict.decision.outcome is not Outcome.APPROVED:
            text += f"merged, bypassing gitjit's verdict ({describe(verdict.decision)})"
        else:
            text += f"merged -- verdict {describe(verdict.decision)}"
        result = _verdict_result(verdict.decision)
        return text, _with(result, merged=merged), number

    def _delete(self, login: str, gid: str, what: str,
                approvers: tuple[str, ...]) -> tuple[str, sc.Result, int]:
        path = f"{GRANTS_DIR}{gid}.yaml"
        tip = self.repo.resolve(BRANCH)
        if not self.repo.tree(tip).exists(path):
            raise GitjitError(f"grant {gid} is not on {BRANCH} (no {path}); name a grant that "
                              "an earlier step merged and that was not removed since")
        self.repo.git("read-tree", tip)
        self.repo.git("update-index", "--force-remove", "--", path)
        verb = "Relinquish" if what == "relinquish" else "Revoke"
        number = self._open(login, f"{what}/{gid}-{self.now:%Y%m%dT%H%M%SZ}", tip,
                            f"{verb} {gid}", f"{verb} {gid}")
        for approver in approvers:
            self.forge.submit_review(number, approver, ReviewState.APPROVED, at=self.now)
        merger = approvers[0] if approvers else login
        merged, verdict = self._gated_merge(number, merger, admin=False)
        by = f", approved by {', '.join(approvers)}" if approvers else ""
        verbs = "relinquishes" if what == "relinquish" else "revokes"
        outcome = f"merged by {merger}" if merged else "not merged"
        text = (f"{login} {verbs} {gid} (PR #{number}{by}): {describe(verdict.decision)} -- "
                f"{outcome}")
        return text, _with(_verdict_result(verdict.decision), merged=merged), number

    def _lifecycle(self, command: Callable[..., Report]) -> tuple[str, tuple[str, ...]]:
        before = self._snapshot()
        events_before = len(_recording_events(self.recording))
        # A simulation touches no real system: the recording target stands in for the targets,
        # and nobody is notified.
        report = command(self.life, self.now, notify=False)
        after = self._snapshot()
        events = _recording_events(self.recording)[events_before:]
        failures = tuple(f"{s.action} {s.grant}: {s.detail}" for s in report.failures)
        text = _lifecycle_text(list(after.records[len(before.records):]), events, report,
                               self.now, "refused" if command is activate else "expired")
        return text or "nothing to do", failures

    # -- helpers -------------------------------------------------------------------------

    def _open(self, login: str, branch: str, parent: str, title: str, body: str) -> int:
        """Commit the index as ``login`` on a new branch and open a pull request from it."""
        tree = self.repo.git("write-tree").decode("ascii").strip()
        commit = self.repo.commit_tree(tree, [parent], f"{title}\n",
                                       env=_identity(login, self.now))
        if not self.repo.update_ref(f"refs/heads/{branch}", commit, None,
                                    message=f"branch for {title}"):
            raise GitjitError(f"branch {branch!r} exists already")
        opened = self.forge.open_pull_request(author=Login(login), head_ref=branch,
                                              base=BRANCH, title=title, body=body, at=self.now)
        return opened.number

    def _number(self, number: int | None) -> int:
        if number is not None:
            return number
        pulls = self.forge.pull_requests()
        if not pulls:
            raise GitjitError("no pull request has been opened yet; put a request step first")
        return pulls[-1].number

    def _judge(self, info: PullRequestInfo) -> Verdict:
        base = (self.repo.resolve(f"{info.merge_sha}^1") if info.merge_sha
                else self.repo.resolve(info.base))
        return judge(self.repo, base, info.head_sha, info.author,
                     self.forge.reviews(info.number), self.forge.pushers(info.number), self.now,
                     targets=self.targets)

    def _gated_merge(self, number: int, login: str, admin: bool) -> tuple[bool, Verdict]:
        """Merge as ``gitjit local merge`` does: only when the verdict is approved, unless
        an admin bypasses it."""
        verdict = self._judge(self.forge.pull_request(number))

        def gate(info: PullRequestInfo) -> str | None:
            nonlocal verdict
            verdict = self._judge(info)
            if verdict.decision.outcome is Outcome.APPROVED:
                return None
            return f"gitjit's verdict is {verdict.decision.outcome.value}"

        try:
            self.forge.merge(number, login, at=self.now, gate=None if admin else gate)
        except MergeRefusedError:
            return False, verdict
        return True, verdict

    def _snapshot(self) -> _Snapshot:
        grants = {grant_id(e.path) for e in self.repo.tree(BRANCH).entries(GRANTS_DIR)}
        active = _recording_state(self.recording)
        return _Snapshot(frozenset(grants), frozenset(active), tuple(self.ledger.records()))


@dataclass(frozen=True)
class _Snapshot:
    grants: frozenset[str]
    active: frozenset[str]
    records: tuple[Record, ...]


def _with(result: sc.Result, *, merged: bool) -> sc.Result:
    return sc.Result(verdict=result.verdict, missing=result.missing, findings=result.findings,
                     merged=merged)


def _verdict_result(decision: Decision) -> sc.Result:
    return sc.Result(verdict=decision.outcome.value,
                     missing=tuple(sorted({m.step for m in decision.missing})),
                     findings=tuple(sorted({f.code for f in decision.findings})))


def describe(decision: Decision) -> str:
    """The verdict in a few words: 'pending -- step 2 (group:security) needs 1 more'."""
    outcome = decision.outcome.value
    if decision.outcome is Outcome.APPROVED:
        notes = []
        if decision.break_glass:
            due = (f", review due by {decision.review_by:%Y-%m-%d %H:%M}Z"
                   if decision.review_by else "")
            notes.append(f"break-glass{due}")
        if decision.auto_approved:
            notes.append("auto-approved")
        if not notes and decision.kind is not Kind.REQUEST:
            notes.append(decision.kind.value)  # relinquish, housekeeping, revoke
        return f"{outcome} ({'; '.join(notes)})" if notes else outcome
    parts = [f"step {m.step} ({m.approvers}) needs {m.needed} more" for m in decision.missing]
    stale = sorted({f.message for f in decision.findings if f.code == "approval.stale"})
    blocked = [f.message for f in decision.findings
               if f.code == "approval.changes-requested"]
    parts += blocked
    if decision.outcome is Outcome.DENIED or not parts:
        errors = [f.message for f in decision.errors]
        parts += errors[:1] + ([f"and {len(errors) - 1} more"] if len(errors) > 1 else [])
    text = f"{outcome} -- {', '.join(parts)}" if parts else outcome
    if stale:
        text += f" ({'; '.join(stale)})"
    return text


def _lifecycle_text(records: list[Record], events: list[Mapping[str, Any]], report: Report,
                    now: datetime, removed: str) -> str:
    parts: list[str] = []
    explained: set[tuple[str, str]] = set()
    for record in records:
        gid = record.grant_id
        if record.event is Event.ACTIVATED:
            assert record.activated_at is not None and record.expires_at is not None
            starts = (f" from {_clock(record.activated_at)}"
                      if record.activated_at > now else "")
            parts.append(f"activated {gid}{starts} until {_clock(record.expires_at)}")
            explained.add(("apply", gid))
        elif record.event is Event.REFUSED:
            parts.append(f"refused {gid}: {record.detail}")
        elif record.event is Event.ALERT:
            parts.append("alert recorded")
        elif record.event is Event.STARTED:
            parts.append(f"started {gid}")
            explained.add(("run", gid))
        elif record.event in OUTCOME_EVENTS:
            parts.append(f"{gid} {record.event.value}"
                         + (f": {record.detail}" if record.detail else ""))
        else:
            why = record.detail if record.event is not Event.EXPIRED else ""
            if any(e["action"] == "revoke" and e["grant_id"] == gid for e in events):
                parts.append(f"revoked {gid} ({why or record.event.value})")
            else:
                parts.append(f"{gid} {record.event.value}" + (f"; {why}" if why else ""))
            explained.add(("revoke", gid))
    for event in events:
        key = (str(event["action"]), str(event["grant_id"]))
        if key not in explained:
            verb = {"apply": "granted", "run": "ran (recorded)"}.get(key[0], "revoked")
            parts.append(f"{verb} {key[1]}")
    for item in report.steps:
        names = item.grant.split(", ")
        files = f"{len(names)} {removed} grant file{'s' if len(names) != 1 else ''}"
        if item.action == "removed":
            parts.append(f"removed {files} ({item.detail})")
        elif item.action == "removal pull request":
            parts.append(f"opened removal pull request {item.detail} for {files}")
    return "; ".join(parts)


def _recording_state(path: Path) -> list[str]:
    data = _recording(path)
    return sorted(data.get("assignments", {}))


def _recording_events(path: Path) -> list[Mapping[str, Any]]:
    events: list[Mapping[str, Any]] = _recording(path).get("events", [])
    return events


def _recording(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data


def action_yaml(action: sc.RequestAction) -> bytes:
    """The action request a requester would write."""
    lines = ["apiVersion: gitjit/v1", "kind: Action",
             f"policy: {json.dumps(action.policy)}", f"requester: {json.dumps(action.login)}"]
    if action.runbook is not None:
        lines.append(f"runbook: {json.dumps(action.runbook)}")
        if action.params:
            lines.append("params:")
            lines += [f"  {name}: {json.dumps(value, ensure_ascii=False)}"
                      for name, value in action.params]
    if action.sql is not None:
        lines.append(f"sql: {json.dumps(action.sql, ensure_ascii=False)}")
    lines.append(f"justification: {json.dumps(action.justification, ensure_ascii=False)}")
    if action.ticket is not None:
        lines.append(f"ticket: {json.dumps(action.ticket, ensure_ascii=False)}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def grant_yaml(action: sc.Request) -> bytes:
    """The grant file a requester would write."""
    fields = [("policy", action.policy), ("requester", action.login),
              ("duration", action.duration), ("justification", action.justification),
              ("ticket", action.ticket), ("start", action.start), ("extends", action.extends),
              ("break_glass", "true" if action.break_glass else None)]
    lines = ["apiVersion: gitjit/v1", "kind: Grant"]
    # JSON strings are YAML double-quoted scalars: any text round-trips as text.
    lines += [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields
              if value is not None]
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- output ----------------------------------------------------------------------------------


def _clock(when: datetime | None) -> str:
    return f"{when:%H:%M}" if when else "?"


def _label(start: datetime, at: datetime) -> str:
    """HH:MM on the start's day (UTC); later days carry their date."""
    return f"{at:%H:%M}" if at.date() == start.date() else f"{at:%m-%d %H:%M}"


def _line(start: datetime, outcome: StepOutcome) -> str:
    mark = "" if outcome.ok else "  [FAILED]"
    return f"{_label(start, outcome.at):>5}  {outcome.step.name:<10} {outcome.text}{mark}"


def summary(outcomes: list[StepOutcome]) -> str:
    checks = sum(len(o.checks) for o in outcomes)
    failed = [o.step.number for o in outcomes if not o.ok]
    head = f"simulate: {len(outcomes)} steps, {checks} expectations"
    if not failed:
        return f"{head}: all hold"
    return f"{head}: FAILED at step {', '.join(str(n) for n in failed)}"


def _time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_json(scenario: sc.Scenario, outcomes: list[StepOutcome]) -> str:
    steps = []
    for outcome in outcomes:
        result = outcome.result
        steps.append({
            "number": outcome.step.number, "action": outcome.step.name, "line": outcome.step.line,
            "at": _time(outcome.at), "text": outcome.text, "ok": outcome.ok,
            "result": {
                "pull_request": outcome.pull_request, "verdict": result.verdict,
                "missing": list(result.missing), "findings": list(result.findings),
                "merged": result.merged, "active": list(result.active),
                "ledger": list(result.ledger), "removed": list(result.removed),
                "failures": list(result.failures),
            },
            "expectations": [{"key": c.key, "expected": c.expected, "actual": c.actual,
                              "ok": c.ok} for c in outcome.checks],
        })
    return json.dumps({
        "version": JSON_VERSION, "scenario": scenario.path,
        "description": scenario.description, "start": _time(scenario.start),
        "ok": all(o.ok for o in outcomes), "summary": summary(outcomes), "steps": steps,
    }, indent=2) + "\n"


# -- git and files ---------------------------------------------------------------------------


def _identity(login: str, at: datetime) -> dict[str, str]:
    stamp = f"@{int(at.timestamp())} +0000"
    email = f"{login}@users.noreply.gitjit.invalid"
    return {"GIT_AUTHOR_NAME": login, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": login, "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": stamp}


@contextmanager
def _acting(login: str, at: datetime) -> Iterator[None]:
    """Commits gitjit makes during a step (ledger records, removals) carry the simulated
    time, not the wall clock, and need no git identity configured on the machine. The
    engine's git adapter passes GIT_AUTHOR_* and GIT_COMMITTER_* through, so they are set
    here for the step and restored after it."""
    wanted = _identity(login, at)
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _init(path: Path) -> None:
    """A new repository on branch main whose commits never depend on the user's git config
    (no signing prompt, no hooks)."""
    for args in (["init", "--quiet", f"--initial-branch={BRANCH}"],
                 ["config", "commit.gpgsign", "false"],
                 ["config", "core.hooksPath", os.devnull]):
        result = subprocess.run(["git", *args], cwd=path, env=scrubbed_env(),
                                capture_output=True, check=False)
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise GitjitError(f"cannot create the simulation's repository in {path}: {message}")


def _yaml(file: Path) -> dict[str, Any] | None:
    """The file as gitjit reads it (every scalar the string written: 09:00 stays 09:00), or
    None when it is not a mapping gitjit could read (the simulation judged it so already)."""
    if not file.is_file():
        return None
    try:
        document = load(file.read_bytes(), str(file)).data
    except LoadError:
        return None
    return document if isinstance(document, dict) else None


def _write_yaml(file: Path, document: dict[str, Any], why: str) -> None:
    file.write_text(f"# gitjit simulate: a stand-in for the recording target ({why}).\n"
                    + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")


def _copy(source: Traversable, target: Path) -> None:
    """Copy a folder, from the file system or from the installed package."""
    if isinstance(source, Path):
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        return
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir():
            _copy(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())

