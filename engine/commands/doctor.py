"""gitjit doctor: check a live GitHub repository's settings against what gitjit relies on."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

from engine.commands.forges import github_from_env
from engine.core.doctor import diagnose
from engine.errors import UsageError


@dataclass(frozen=True)
class DoctorOptions:
    branch: str | None
    app_id: int | None
    now: datetime
    format: str


def run(options: DoctorOptions) -> int:
    app_id = options.app_id
    if app_id is None and os.environ.get("GITJIT_APP_ID"):
        try:
            app_id = int(os.environ["GITJIT_APP_ID"])
        except ValueError as exc:
            raise UsageError(f"GITJIT_APP_ID must be the App's number, not "
                             f"{os.environ['GITJIT_APP_ID']!r}") from exc
    forge = github_from_env()
    results = diagnose(forge.snapshot(options.branch, app_id), options.now)
    failed = [r for r in results if not r.passed]
    if options.format == "json":
        print(json.dumps({"repository": forge.repository, "ok": not failed, "checks": [
            {"requirement": r.requirement, "passed": r.passed, "detail": r.detail,
             "fix": None if r.passed else r.fix} for r in results]}, indent=2))
    else:
        for result in results:
            mark = "ok  " if result.passed else "FAIL"
            print(f"{mark} {result.requirement} ({result.detail})")
            if not result.passed:
                print(f"     fix: {result.fix}")
        print(f"{forge.repository}: {len(results) - len(failed)} of {len(results)} "
              "requirements met")
    return 1 if failed else 0
