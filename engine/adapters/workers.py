"""Splitting one long computation over the machine's cores.

``split`` cuts a list of work items into contiguous slices and runs the same function over
each: the first slice in this process, every other one in a child forked from it, so the
children start with everything already loaded (configuration, schemas, compiled validators)
and nothing is imported or parsed twice. Each child sends its result back pickled through a
pipe, together with progress as it goes; the result comes back in slice order, as if one
process had done it all.

Forking is used only where it is safe and pays: on Linux, with more than one core available,
and while this process runs no other thread (a thread holding a lock at the fork would leave
the child's copy of that lock held forever). Anywhere else, and for ``jobs=1``, the whole list
runs here, with the same result.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

from engine.errors import GitjitError

T = TypeVar("T")
R = TypeVar("R")
Report = Callable[[int], None]
"""Called with how many items were just finished, for progress."""

_CAN_FORK = sys.platform == "linux" and hasattr(os, "fork")
_LENGTH = 8


def cores() -> int:
    """How many cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_split() -> bool:
    """Whether ``split`` would run slices in other processes now."""
    return _CAN_FORK and threading.active_count() == 1


def split(items: Sequence[T], work: Callable[[Sequence[T], Report], R], *, jobs: int,
          report: Report | None = None) -> list[R]:
    """``work`` over ``jobs`` contiguous slices of ``items``, in slice order (see the module).

    ``work(slice, report)`` must be a function of its slice alone; it calls ``report(n)`` as
    it finishes items, and ``report`` here hears of every slice's progress. An exception in a
    child is raised here: a GitjitError as itself, anything else as an internal error."""
    tick: Report = report if report is not None else _ignore
    jobs = min(jobs, len(items))
    if jobs <= 1 or not can_split():
        return [work(items, tick)]
    bounds = [len(items) * index // jobs for index in range(jobs + 1)]
    slices = [items[bounds[i]:bounds[i + 1]] for i in range(jobs)]
    # Whatever is buffered would otherwise be written twice, by this process and a child.
    sys.stdout.flush()
    sys.stderr.flush()
    children: list[_Child] = []
    try:
        for part in slices[1:]:
            children.append(_Child.start(part, work))  # noqa: PERF401 - stopped in finally

        def here(count: int) -> None:
            tick(count)
            for child in children:
                child.poll(tick)

        results = [work(slices[0], here)]
        # Each child ran the same ``work``, so its result has the same type.
        results += [cast(R, child.result(tick)) for child in children]
    finally:
        for child in children:
            child.stop()
    return results


def _ignore(_count: int) -> None:
    pass


class _Child:
    """A forked child working on one slice, and what it has sent back so far."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.buffer = bytearray()
        self.outcome: tuple[str, object] | None = None
        self.reaped = False

    @classmethod
    def start(cls, part: Sequence[T], work: Callable[[Sequence[T], Report], R]) -> _Child:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            os.close(read)
            _run_child(write, part, work)
        os.close(write)
        os.set_blocking(read, False)
        return cls(pid, read)

    def poll(self, tick: Report) -> None:
        """Take in what the child has sent, without waiting."""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buffer += chunk
            self._frames(tick)

    def result(self, tick: Report) -> object:
        os.set_blocking(self.fd, True)
        while self.outcome is None:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                break
            self.buffer += chunk
            self._frames(tick)
        _pid, status = os.waitpid(self.pid, 0)
        self.reaped = True
        if self.outcome is None:
            raise RuntimeError(f"a worker process ended without a result "
                               f"(wait status {status}); run again with --jobs 1")
        kind, value = self.outcome
        if kind == "error":
            if isinstance(value, BaseException):
                raise value
            raise RuntimeError(f"a worker process failed: {value}")
        return value

    def _frames(self, tick: Report) -> None:
        data = self.buffer
        while data:
            tag = data[:1]
            if tag == b"p":
                if len(data) < 1 + _LENGTH:
                    return
                tick(int.from_bytes(data[1:1 + _LENGTH], "big"))
                del data[:1 + _LENGTH]
                continue
            if len(data) < 1 + _LENGTH:
                return
            size = int.from_bytes(data[1:1 + _LENGTH], "big")
            if len(data) < 1 + _LENGTH + size:
                return
            payload = bytes(data[1 + _LENGTH:1 + _LENGTH + size])
            del data[:1 + _LENGTH + size]
            # Our own fork's pickle, through our own pipe: no one else can write to it.
            self.outcome = ("result" if tag == b"r" else "error", pickle.loads(payload))

    def stop(self) -> None:
        """Close the pipe; a child still running (this process failed first) is ended."""
        os.close(self.fd)
        if not self.reaped:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.reaped = True


def _run_child(fd: int, part: Sequence[T],
               work: Callable[[Sequence[T], Report], R]) -> None:  # pragma: no cover
    status = 1
    out = os.fdopen(fd, "wb")

    def send(tag: bytes, payload: bytes) -> None:
        out.write(tag + len(payload).to_bytes(_LENGTH, "big") + payload)
        out.flush()

    try:
        def progress(count: int) -> None:
            out.write(b"p" + count.to_bytes(_LENGTH, "big"))
            out.flush()

        result = work(part, progress)
        send(b"r", pickle.dumps(result, pickle.HIGHEST_PROTOCOL))
        status = 0
    except BaseException as exc:
        try:
            error: object = exc if isinstance(exc, GitjitError) else f"{type(exc).__name__}: {exc}"
            try:
                payload = pickle.dumps(error)
                pickle.loads(payload)
            except Exception:
                payload = pickle.dumps(f"{type(exc).__name__}: {exc}")
            send(b"e", payload)
        except BaseException:
            pass
    finally:
        os._exit(status)
