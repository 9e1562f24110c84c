"""The HTML report: one self-contained file with the findings and the charts.

It is rendered from our own template in jinja2's sandboxed, autoescaping environment, so every
value from a grant, a pull request or a login is escaped. The chart data travels as JSON in a
``<script type="application/json">`` element, escaped for that context (``<``, ``>`` and ``&``
as ``\\u`` escapes, so no text can close the element). Chart.js and its matrix plugin are
inlined from engine/report/vendor/. A Content-Security-Policy allows exactly the inline
scripts and the style the template holds (by their SHA-256) and nothing else: no request to
any server, and a script that escaped escaping would still not run.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from engine.report.build import Report
from engine.report.render import headline, period_line, report_document, summary_lines
from engine.report.signals import SIGNALS

TEMPLATE = "report.html.j2"
VENDOR = (
    # (file, size in bytes, sha256): checked at render time, so a damaged or swapped copy is
    # an error rather than a report that runs something else.
    ("chart.umd.min.js", 210040,
     "c17f2ce49fb9c71ef7fb39c03f868804ac5ab34730149976eebe6b7f807bef0c"),
    ("chartjs-chart-matrix.min.js", 3618,
     "2e17b70de6f0c0b270eb950a21641f80f74d5aa78326f0dafa09668aa8995d0c"),
)
LICENSES = ("LICENSE-chart.js.md", "LICENSE-chartjs-chart-matrix.txt")


class VendorError(Exception):
    """A vendored script is not the one this version of gitjit shipped."""


def _package_text(*parts: str) -> str:
    return resources.files("engine").joinpath("report", *parts).read_text("utf-8")


def vendored() -> list[str]:
    scripts = []
    for name, size, digest in VENDOR:
        raw = resources.files("engine").joinpath("report", "vendor", name).read_bytes()
        if len(raw) != size or hashlib.sha256(raw).hexdigest() != digest:
            raise VendorError(f"engine/report/vendor/{name} is not the file gitjit shipped "
                              f"(size {len(raw)}, expected {size}); reinstall gitjit")
        text = raw.decode("utf-8")
        if "</script" in text.lower():
            raise VendorError(f"engine/report/vendor/{name} contains '</script'")
        scripts.append(text)
    return scripts


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: nothing in it can end the element or open a
    comment, whatever the strings hold."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def render_html(report: Report) -> str:
    env = SandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(_package_text("templates", TEMPLATE))
    licenses = "\n".join(_package_text("vendor", name) for name in LICENSES)
    libraries = [f"/*! gitjit report: the code below is vendored, under these licenses:\n"
                 f"{licenses.replace('*/', '* /')}\n*/\n", *vendored()]
    library = "\n".join(libraries)
    data = script_json(report_document(report))
    drawing = _package_text("templates", "report.js")
    style = _package_text("templates", "report.css")
    policy = (f"default-src 'none'; script-src {_hash(library)} {_hash(drawing)}; "
              f"style-src {_hash(style)}; img-src data:; base-uri 'none'; form-action 'none'")
    return template.render(
        report=report,
        signals=SIGNALS,
        title=period_line(report),
        summary=summary_lines(report),
        headline=headline(report),
        csp=policy,
        style=Markup(style),  # noqa: S704  # our own file, hashed into the CSP
        library=Markup(library),  # noqa: S704  # vendored, checked against its digest
        drawing=Markup(drawing),  # noqa: S704  # our own file, hashed into the CSP
        data=Markup(data),  # noqa: S704  # script_json escapes it for this context
    )
