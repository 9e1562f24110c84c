"""The report's thresholds from ``report:`` in policies/settings.yaml.

The schema fixes the keys and that counts are whole numbers and shares percentages; the
configuration loader checks the durations (``value.duration``). Anything not set keeps its
default (engine/report/model.py, ``Thresholds``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import timedelta

from engine.core.values import parse_duration
from engine.report.model import Thresholds

SETTINGS_KEYS: dict[tuple[str, str], str] = {
    ("too_many_activations", "count"): "activations_count",
    ("too_many_activations", "window"): "activations_window",
    ("unused_eligibility", "after"): "unused_after",
    ("fast_approval", "within"): "fast_approval_within",
    ("fast_approval", "count"): "fast_approval_count",
    ("fast_approval", "share"): "fast_approval_share",
    ("approves_everything", "reviews"): "approve_all_reviews",
    ("approves_everything", "share"): "approve_all_share",
    ("reciprocal_approvals", "count"): "reciprocal_min",
    ("approval_rings", "max_people"): "ring_max",
    ("unusual_hour", "history"): "unusual_history",
    ("unusual_hour", "distance"): "unusual_distance",
    ("justification", "reuse"): "justification_reuse",
    ("justification", "short_percent"): "justification_short_percent",
    ("justification", "baseline"): "justification_baseline",
    ("ticket", "grants"): "ticket_grants",
    ("ticket", "people"): "ticket_people",
    ("extends_chain", "grants"): "chain_grants",
    ("extends_chain", "span"): "chain_span",
    ("late_revocation", "after"): "late_revocation_after",
}
"""settings.yaml ``report.<signal>.<key>`` -> the ``Thresholds`` field it sets."""

_DURATIONS = {f.name for f in fields(Thresholds) if f.type in ("timedelta", timedelta)}


def is_duration(signal: str, key: str) -> bool:
    return SETTINGS_KEYS.get((signal, key)) in _DURATIONS


def from_settings(report: Mapping[str, Mapping[str, str]]) -> Thresholds:
    """The thresholds with every value settings give; ValueError names a bad one."""
    changes: dict[str, object] = {}
    for signal, values in report.items():
        for key, text in values.items():
            name = SETTINGS_KEYS.get((signal, key))
            if name is None:
                raise ValueError(f"report.{signal}.{key} is not a report setting")
            try:
                changes[name] = parse_duration(text) if name in _DURATIONS else int(text)
            except ValueError as exc:
                raise ValueError(f"report.{signal}.{key}: {exc}") from exc
    return replace(Thresholds(), **changes)  # type: ignore[arg-type]
