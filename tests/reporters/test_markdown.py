"""The markdown reporter: the pull-request comment, where user text must stay plain text."""

from __future__ import annotations

import re

import pytest

from engine.reporters import markdown
from tests.reporters import samples

HOSTILE = "@acme/security <script>alert(1)</script> [link](http://x) `code` it's"


def test_user_text_pings_nobody_and_injects_no_html_link_or_code() -> None:
    out = markdown.pull_request(samples.pending(justification=HOSTILE))
    row = next(line for line in out.splitlines() if line.startswith("| justification |"))
    assert row == ("| justification | &#64;acme/security &lt;script&gt;alert\\(1\\)&lt;/script&gt;"
                   " \\[link\\]\\(http://x\\) \\`code\\` it&#39;s |")
    assert "@" not in out
    assert "<script" not in out
    assert "](" not in out
    assert re.search(r"(?<!\\)`code", out) is None


@pytest.mark.parametrize(("raw", "escaped"), [
    ("@org/team", "&#64;org/team"),
    ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
    ("[link](http://x)", "\\[link\\]\\(http://x\\)"),
    ("`code`", "\\`code\\`"),
    ("it's \"quoted\"", "it&#39;s &#34;quoted&#34;"),
    ("a | b", "a \\| b"),
    ("*bold* _em_ ~~del~~ # h !img", "\\*bold\\* \\_em\\_ \\~\\~del\\~\\~ \\# h \\!img"),
    ("back\\slash", "back\\\\slash"),
    ("one\ntwo\r\nthree", "one two  three"),
    ("&amp;", "&amp;amp;"),
    ("{{ 7 * 7 }}", "{{ 7 \\* 7 }}"),
])
def test_escape_markdown(raw: str, escaped: str) -> None:
    assert str(markdown.escape_markdown(raw)) == escaped


def test_a_newline_in_user_text_cannot_end_the_table_row() -> None:
    out = markdown.pull_request(samples.pending(justification="ok\n\n### forged heading"))
    assert "| justification | ok  \\#\\#\\# forged heading |" in out.splitlines()
    assert "### forged" not in out


def test_finding_messages_are_escaped_too() -> None:
    out = markdown.pull_request(samples.pending(message="@acme/admins see <img src=x> [y](z)"))
    assert out.splitlines()[-1] == ("- `approval.stale` grants/prod-db-admin/bob-20261130T0912Z"
                                    ".yaml: &#64;acme/admins see &lt;img src=x&gt; \\[y\\]\\(z\\)")


def test_pull_request_comment_whole() -> None:
    assert markdown.pull_request(samples.pending()) == """\
<!-- gitjit:plan -->
### gitjit: pending (request)

| | |
|---|---|
| requester | bob |
| policy | prod-db-admin |
| duration | 2h |
| justification | Replication lag on the orders primary \\(INC-1234\\) |
| ticket | INC-1234 |

**Approvals still needed**

- step 1 (group:dba): 1 more of 1; may approve: dave, erin

**Counted approvals**

- sam (step 2)

**Findings**

- `approval.stale` grants/prod-db-admin/bob-20261130T0912Z.yaml: approval by dave ignored: \
given on commit 333333333333, not on the head 111111111111; ask them to approve again
"""


def test_break_glass_says_when_the_review_is_due() -> None:
    out = markdown.pull_request(samples.break_glass())
    assert "| break-glass | review due by 2026-12-01 09:00 UTC |" in out.splitlines()
