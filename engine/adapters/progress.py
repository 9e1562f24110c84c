"""Progress on long work: one line on stderr that rewrites itself, on a terminal only.

Any command that walks many things (grants to check, ledger records, history to replay,
targets to reconcile) wraps the walk in ``task`` and advances it as it goes::

    with progress.task("checking grants", total=len(entries), enabled=fmt == "text") as bar:
        for chunk in chunks:
            ...
            bar.advance(len(chunk))

or, for one phase of a longer task, ``for item in bar.each(items, "applying"): ...``.

Nothing is shown unless stderr is a terminal, the command asked for it (``enabled``: never
with --format json or another machine format) and the work has run for more than a moment
(``GITJIT_PROGRESS_AFTER`` seconds, default 0.5), so quick runs, pipes, CI logs and JSON
stay exactly as they were. ``GITJIT_PROGRESS=off`` turns it off everywhere. The line is
erased when the task ends, so the command's own output starts on a clean line.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO, TypeVar

T = TypeVar("T")

_DEFAULT_AFTER = 0.5
_REDRAW_EVERY = 0.1
_ERASE = "\r\x1b[K"


class Bar:
    """A task's progress: ``advance`` as work is done; draws itself when it should."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None,
                 after: float) -> None:
        self.label = label
        self.task = label
        self.total = total
        self.done = 0
        self._stream = stream
        self._show_from = time.monotonic() + after
        self._drawn_at = 0.0
        self._shown = False

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._stream is None:
            return
        now = time.monotonic()
        if now < self._show_from or now - self._drawn_at < _REDRAW_EVERY:
            return
        self._drawn_at = now
        self._shown = True
        self._stream.write(_ERASE + self.line())
        self._stream.flush()

    def each(self, items: Sequence[T], label: str | None = None) -> Iterator[T]:
        """``items`` one by one, advancing after each. With ``label``, a new phase of the
        task: counted from zero out of ``len(items)`` (reconcile checks, applies, then ends)."""
        if label is not None:
            self.label = f"{self.task}: {label}" if self.task else label
            self.done, self.total = 0, len(items)
            self._drawn_at = 0.0  # a new phase shows its name at once
        else:
            self.total = (self.total or 0) + len(items)
        for item in items:
            yield item
            self.advance()

    def line(self) -> str:
        if self.total:
            share = min(self.done, self.total) * 100 // self.total
            return f"{self.label}: {self.done:,} of {self.total:,} ({share}%)"
        return f"{self.label}: {self.done:,}"

    def close(self) -> None:
        if self._stream is not None and self._shown:
            self._stream.write(_ERASE)
            self._stream.flush()
        self._shown = False


def _after() -> float:
    try:
        return max(0.0, float(os.environ.get("GITJIT_PROGRESS_AFTER", _DEFAULT_AFTER)))
    except ValueError:
        return _DEFAULT_AFTER


def shown(enabled: bool = True, stream: TextIO | None = None) -> TextIO | None:
    """The stream progress goes to, or None when it must not be shown."""
    out = sys.stderr if stream is None else stream
    if not enabled or os.environ.get("GITJIT_PROGRESS", "").lower() in ("off", "0", "no"):
        return None
    if os.environ.get("TERM") == "dumb":
        return None
    try:
        return out if out.isatty() else None
    except (AttributeError, ValueError):  # a closed or replaced stream
        return None


def silent() -> Bar:
    """A bar that shows nothing: for a caller that gave none."""
    return Bar("", None, None, 0.0)


@contextmanager
def task(label: str, total: int | None = None, *, enabled: bool = True,
         stream: TextIO | None = None) -> Iterator[Bar]:
    """A progress line for ``label`` (``total`` units of work when known); see the module."""
    bar = Bar(label, total, shown(enabled, stream), _after())
    try:
        yield bar
    finally:
        bar.close()
