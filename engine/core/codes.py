# ruff: noqa: E501  (a table: one code per line reads best)
"""The registry of finding codes. Codes are stable: never reuse or rename one.

Each code has a one-line title and the fix a user should apply. docs/findings.md documents
every code here (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeInfo:
    title: str
    fix: str


def _c(title: str, fix: str) -> CodeInfo:
    return CodeInfo(title, fix)


CODES: dict[str, CodeInfo] = {
    # --- strict YAML loading -------------------------------------------------------------
    "yaml.too-large": _c("file exceeds the size cap", "Keep the file under the cap (64 KiB for a grant, 512 KiB for configuration): trim it."),
    "yaml.encoding": _c("file is not valid UTF-8", "Save the file as UTF-8."),
    "yaml.bom": _c("file starts with a byte order mark", "Save the file as UTF-8 without BOM."),
    "yaml.forbidden-character": _c("control or bidirectional character", "Remove control characters (other than tab and newline) and bidirectional overrides, also when written as escapes."),
    "yaml.syntax": _c("YAML syntax error", "Fix the YAML syntax at the given line."),
    "yaml.empty": _c("file holds no document", "Write one YAML mapping with apiVersion and kind."),
    "yaml.multiple-documents": _c("more than one YAML document", "Keep exactly one document per file; remove '---' separators."),
    "yaml.anchor": _c("anchors and aliases are not allowed", "Write the value out in full instead of using &anchor / *alias."),
    "yaml.tag": _c("tags are not allowed", "Remove the '!tag'; every value is plain text typed by the schema."),
    "yaml.merge-key": _c("merge keys are not allowed", "Write the keys out instead of '<<'."),
    "yaml.duplicate-key": _c("duplicate key", "Keep one occurrence of the key."),
    "yaml.complex-key": _c("a key that is not plain text", "Use plain text keys only."),
    "yaml.too-deep": _c("nesting too deep", "Flatten the document; gitjit files are at most a few levels deep."),
    "yaml.too-many-nodes": _c("too many YAML nodes", "Shrink the document; split long lists into several files."),
    # --- schema ---------------------------------------------------------------------------
    "schema.invalid": _c("does not match the schema", "Change the value as the message says; the schema is in schemas/."),
    "schema.api-version": _c("unknown apiVersion", "Use 'apiVersion: gitjit/v1'."),
    "schema.kind": _c("unknown or misplaced kind", "Use the kind that belongs at this path: Policy, Groups, Settings or PolicyTest under policies/, Grant under grants/."),
    "schema.unavailable": _c("schema cannot be loaded", "Restore the schema file in schemas/ (or delete the folder to use the packaged schemas)."),
    # --- typed values ---------------------------------------------------------------------
    "value.duration": _c("invalid duration", "Write a positive duration such as 30m, 2h, 1h30m, 1d or PT2H (no months or years)."),
    "value.timestamp": _c("invalid timestamp", "Write an RFC 3339 timestamp with an offset, e.g. 2026-11-27T09:00:00Z."),
    "value.login": _c("invalid login", "Use a GitHub login: ASCII letters, digits and single hyphens, at most 39 characters."),
    "value.principal": _c("invalid principal", "Write 'user:LOGIN', 'group:NAME' or 'team:ORG/SLUG'."),
    "value.pattern": _c("invalid regular expression", "Fix the regular expression."),
    "value.timezone": _c("unknown time zone", "Use an IANA time zone name such as Europe/Berlin or UTC."),
    "value.time-range": _c("invalid time range", "Write 'HH:MM-HH:MM' with the start before the end."),
    # --- configuration (policies/) --------------------------------------------------------
    "config.missing": _c("required configuration file is missing", "Add the file (see docs/file-formats.md)."),
    "config.unexpected-file": _c("unexpected file in the configuration", "Remove the file or give it a gitjit kind and place."),
    "config.policy-id": _c("policy id differs from its file name", "Make 'id' equal the file name without .yaml."),
    "config.duplicate": _c("defined twice", "Keep one definition."),
    "config.unknown-group": _c("unknown group", "Define the group in policies/groups.yaml or fix the name."),
    "config.unresolved-team": _c("team members could not be looked up", "Check the team's name and that gitjit's GitHub token may read the organization's teams (members: read); without a forge (offline) teams are never looked up, so whatever needs one is denied."),
    "config.unknown-channel": _c("unknown notification channel", "Define the channel under notify in policies/settings.yaml or fix the name."),
    "config.unknown-connection": _c("unknown target connection", "Define the connection in policies/settings.yaml or fix the name."),
    "config.no-approval-path": _c("policy can never approve anything", "Add at least one approval step or an auto_approve rule."),
    "config.unsatisfiable-step": _c("approval step can never be met", "Lower 'count' or add approvers: the step needs more distinct approvers than are eligible."),
    "config.default-exceeds-max": _c("default duration exceeds the maximum", "Make duration.default at most duration.max."),
    "config.auto-approve-not-requester": _c("auto-approve names someone who may not request", "Auto-approve only narrows: list only eligible requesters, or add them to requesters."),
    "config.auto-approve-exceeds-max": _c("auto-approve maximum exceeds the policy maximum", "Make auto_approve.max_duration at most duration.max."),
    "config.codeowners-drift": _c("CODEOWNERS differs from the policies", "Run 'gitjit codeowners --write' and commit .github/CODEOWNERS."),
    "config.escalation-nobody": _c("an escalation that tells nobody", "Give pending.escalate a 'to' (people with a personal channel in settings) or a 'notify' (channels), or remove it."),
    "config.timer-too-late": _c("a reminder or escalation after the request is closed", "Make the reminder or escalation earlier than pending.expire_after, or let requests wait longer."),
    "config.identity-conflict": _c("one login pinned to two account ids", "Pin each login to one GitHub account id in policies/groups.yaml (look it up with 'gh api users/LOGIN --jq .id')."),
    "signers.invalid": _c("policies/allowed_signers cannot be used", "Write one 'principal key-type key' line per lifecycle key, as ssh-keygen's .pub file holds it after the principal (see docs/signing.md)."),
    "signers.empty": _c("policies/allowed_signers lists no key", "Add the lifecycle key's line; 'gitjit local keygen' prints one."),
    "signers.missing": _c("no policies/allowed_signers", "Add the public key of the key the lifecycle jobs sign with (docs/signing.md); until then activate and reconcile refuse to run."),
    # --- grants (grants/) -----------------------------------------------------------------
    "grant.not-regular-file": _c("not a regular file", "Only regular files may live under grants/: replace the symlink, submodule or executable file with a plain YAML file."),
    "grant.path": _c("not a canonical grant path", "Name the file grants/<policy>/<requester>-<YYYYMMDDTHHMMZ>.yaml."),
    "grant.path-mismatch": _c("path disagrees with content", "Make the folder equal 'policy' and the file name start with the 'requester'."),
    "grant.unknown-policy": _c("unknown policy", "Use the id of a policy in policies/."),
    "grant.requester-not-author": _c("requester is not the pull request author", "Open the request from the account named in 'requester'."),
    "grant.requester-not-eligible": _c("requester may not request this policy", "Ask a policy admin to add you to the policy's requesters, or choose another policy."),
    "grant.duration-exceeds-max": _c("duration exceeds the maximum", "Ask for at most the maximum; extend later with a new grant naming 'extends'."),
    "grant.justification": _c("justification too short", "Explain why you need the access, in at least the required number of characters."),
    "grant.ticket-missing": _c("ticket required", "Add 'ticket' with the incident or change reference."),
    "grant.ticket-pattern": _c("ticket does not match the policy's pattern", "Use a ticket reference of the form the policy requires."),
    "grant.outside-active-hours": _c("requested outside the policy's active hours", "Request within the active hours, or use break-glass if the policy allows it."),
    "grant.too-many-active": _c("too many active grants", "Wait for or relinquish an active grant of this policy first."),
    "grant.extends": _c("'extends' does not name an eligible grant", "Name the id of your own live grant of the same policy."),
    "grant.break-glass-not-allowed": _c("break-glass not allowed", "Remove 'break_glass', or use a policy with a break_glass rule."),
    "grant.break-glass-duration": _c("break-glass duration exceeds its maximum", "Ask for at most the policy's break_glass.max_duration."),
    "grant.start-after-expiry-window": _c("start is too far in the future", "Start within 30 days."),
    "grant.expired": _c("grant has expired and awaits removal", "Nothing to do: reconcile removes it; or delete the file in a housekeeping pull request."),
    "grant.id-used": _c("grant id was used before", "A grant id is used once: the default branch already held a grant at this path (a revert re-adds one). Pick a new stamp: rename the file to <requester>-<YYYYMMDDTHHMMZ>.yaml with the current time."),
    # --- pull requests --------------------------------------------------------------------
    "pr.empty": _c("pull request changes nothing", "Add a grant file, or close the pull request."),
    "pr.multiple-grants": _c("more than one grant in one pull request", "Open one pull request per grant."),
    "pr.mixed": _c("mixed change", "Split the pull request: grant changes and configuration changes go separately, and adding and deleting grants too."),
    "pr.modifies-grant": _c("grants are immutable", "Do not edit or rename a grant; to extend it, add a new grant with 'extends'."),
    "pr.control-plane": _c("configuration change", "Not a request: approval comes from the repository's own rules (CODEOWNERS, rulesets)."),
    "pr.privilege-change": _c("change in who may obtain what", "Review that the change in privileges is intended."),
    "pr.relinquish": _c("relinquishes own grants", "Nothing to do: approved without review."),
    "pr.housekeeping": _c("removes expired grants", "Nothing to do: approved without review."),
    "pr.revoke": _c("revokes someone else's live grant", "An approver of the grant's policy must approve."),
    "pr.grant-unreadable": _c("deleted grant cannot be read", "Restore the file; deleted grants must be valid grants on the base."),
    "pr.base-not-default": _c("pull request is not into the default branch", "Not judged: gitjit judges only pull requests into the default branch. Open the pull request against the default branch (and close this one)."),
    "pr.head-shared": _c("head commit shared with a pull request into another base", "A check is attached to a commit: close the other pull request with the same head commit (or push a new commit here), then re-run the verdict."),
    "pr.base-config-invalid": _c("the base branch's configuration has errors", "Fail closed: fix the listed errors on the default branch first (run 'gitjit check' there); no request is judged until then."),
    "pr.too-many-commits": _c("more commits than GitHub lists", "GitHub's API lists at most 250 commits of a pull request, so gitjit cannot tell who wrote the others: squash the commits and push again."),
    # --- approvals ------------------------------------------------------------------------
    "approval.missing": _c("approvals still missing", "Ask the listed approvers to review the pull request."),
    "approval.changes-requested": _c("an eligible approver requested changes", "Address the review, then ask the reviewer to approve or dismiss it."),
    "approval.stale": _c("approval given on an older commit", "Ask the reviewer to approve the current head commit."),
    "approval.expired": _c("approval is older than the policy allows", "Ask the reviewer to approve again: an approval counts for the policy's approval_max_age (default 24h), at the verdict and at the merge."),
    "approval.no-write-access": _c("reviewer has no write access to the repository", "Ask an approver with write access to review; an administrator grants repository access, not the policy."),
    "approval.unattributed": _c("commits by identities linked to no account", "Any approver may have written those commits, so each such identity costs one more approval from the policy's approvers; or re-push the commits under an e-mail address linked to the author's GitHub account (or its noreply address)."),
    "approval.revoker": _c("revoked on a revoker's approval", "Nothing to do: one approval by a policy's revokers suffices to revoke (the emergency stop)."),
    "approval.bot": _c("a bot's review never counts", "Ask a person to review."),
    "approval.self": _c("the requester's own review never counts", "Ask an eligible approver to review."),
    "approval.pusher": _c("a reviewer who pushed or authored commits does not count", "Ask an approver who did not contribute commits."),
    "approval.not-eligible": _c("reviewer is not an eligible approver", "Ask an approver listed in the policy."),
    "approval.no-approvers": _c("no eligible approver exists", "Fail closed: a policy admin must add approvers to the policy's steps."),
    "approval.auto": _c("auto-approved", "Nothing to do: the request meets the policy's auto-approve rule."),
    "approval.break-glass": _c("break-glass request", "Approved now; it will be flagged for review after the fact."),
    # --- identities -----------------------------------------------------------------------
    "identity.author-id": _c("pull request author is another account than the pinned one", "The login was renamed or re-registered: if it is the same person, update the id pinned in policies/groups.yaml; if not, do not approve."),
    "identity.reviewer-id": _c("reviewer is another account than the pinned one", "The login was renamed or re-registered: if it is the same person, update the id pinned in policies/groups.yaml; otherwise remove the login from the group."),
    "identity.login-gone": _c("login no longer resolves on GitHub", "The account was renamed or deleted: replace the login in policies/ with the account's current login (look the pinned id up with 'gh api user/ID'), or remove it."),
    "identity.id-changed": _c("login now belongs to another account", "The login was freed by a rename and claimed by someone else: replace it with the original account's new login, or remove it; never re-pin the new id without asking who it is."),
    # --- policy tests ---------------------------------------------------------------------
    "test.failed": _c("policy test failed", "Fix the policy or the test's expectation."),
    # --- ledger ---------------------------------------------------------------------------
    "ledger.unreadable": _c("ledger record cannot be read", "Restore the record from a trusted clone or the protected remote branch; records are written only by gitjit."),
    "ledger.commit-shape": _c("ledger commit does not add exactly one record", "Records are only added, one per commit, by gitjit: restore gitjit/ledger from a trusted clone and find out who changed it."),
    "ledger.not-linear": _c("ledger history is not a straight line", "Restore gitjit/ledger from a trusted clone; protect the branch from force pushes and merges with a ruleset."),
    "ledger.seq-gap": _c("ledger records are missing", "Records were removed: restore gitjit/ledger from a trusted clone and protect it from force pushes."),
    "ledger.seq-order": _c("ledger records are out of order", "Records were reordered or renumbered: restore gitjit/ledger from a trusted clone and protect it from force pushes."),
    "ledger.rewritten": _c("ledger record was rewritten", "Restore the original record from a trusted clone, protect gitjit/ledger from force pushes, and find out who rewrote it."),
    "ledger.duplicate": _c("state change recorded twice", "Find out which writer bypassed gitjit's idempotency check; the later record is the duplicate."),
    "ledger.missing-commit": _c("record names a commit the repository does not hold", "Fetch the full history (fetch-depth: 0); if the commit is still missing, the record points at rewritten or invented history."),
    "ledger.forged": _c("ledger commit not written by gitjit", "gitjit ignores it. Find out who pushed it (the forge's audit log), and restrict updates of gitjit/ledger to the gitjit App with a ruleset (docs/installation.md)."),
    "ledger.unverifiable": _c("no allowed signers to check the ledger against", "Add policies/allowed_signers with the public key the lifecycle jobs sign with (docs/signing.md)."),
    "ledger.unrecorded-grant": _c("grant on the default branch was never verified", "Run gitjit reconcile; if it has run since the grant landed, the grant bypassed gitjit (direct push or admin merge): investigate and remove it."),
}
