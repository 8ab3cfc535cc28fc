"""The CPU milliseconds one P2 verification costs, split by phase.

Checks go one at a time through the real server and client (in-process sources). Each
phase's function is wrapped for the measurement only (nothing else changes), and an
async one is stepped so that only the CPU of its own steps counts, not what other tasks
run while it waits for the database. Phases nest (a phase inside a
database transaction) and are shown so: the transaction line is what the transactions
cost beyond the work of the phases inside them. "Everything else" is the process's CPU
not in any phase: the tasks the fan-out runs each source call in (in-process adapters
here), gRPC and protobuf on both sides, the client, request translation, the threads of
the gRPC core and of the database driver.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import verifier.bootstrap
import verifier.service.monitoring.changes as changes_module
from audit.group_commit import GroupCommitter
from verifier.service.fanout import FanOut
from verifier.service.intake import Intake
from verifier.service.monitoring.changes import ChangeRecorder
from verifier.service.release import Release
from verifier.signing.signer import ReportSigner

# (label, depth) in the order printed; depth 1 lines are part of the line above.
LINES: tuple[tuple[str, str, int], ...] = (
    ("fanout", "fan-out coroutine (its 28 source calls run as tasks: below)", 0),
    ("made", "report version: assess, build, sign (before its write)", 0),
    ("assess", "assessment (policy rules)", 1),
    ("sign", "signing (every configured algorithm)", 1),
    ("intake", "intake in its write: authorize, 授权书, volume, intent", 0),
    ("release", "release in its write: outcomes, report row, state, hooks", 0),
    ("compare_ahead", "change comparison made ahead (verify, compare, sign)", 0),
    ("compare_tx", "change comparison in its write (check, store, alerts)", 0),
    ("tx_only", "write transactions beyond the work above: lock, audit, flush, commit", 0),
    ("other", "everything else: source-call tasks, gRPC, protobuf, client, threads", 0),
)
_IN_TX = ("intake", "release", "compare_tx")


class _Stepped:
    """Awaits a coroutine one step at a time, adding to ``seconds[phase]`` the CPU of its
    own steps only: what other tasks run while it waits is not counted."""

    def __init__(
        self, coro: Coroutine[Any, Any, Any], phase: str, seconds: defaultdict[str, float]
    ) -> None:
        self._coro, self._phase, self._seconds = coro, phase, seconds

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        value: Any = None
        error: BaseException | None = None
        while True:
            t0 = time.thread_time()
            try:
                step = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as done:
                return done.value
            finally:
                self._seconds[self._phase] += time.thread_time() - t0
            try:
                value, error = (yield step), None
            except BaseException as exc:  # thrown in by the loop (a cancellation): pass it on
                value, error = None, exc


class PhaseClock:
    """CPU seconds (this thread's) spent in each wrapped function, summed by phase."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def _patch(self, owner: Any, name: str, wrapper: Any) -> None:
        original = getattr(owner, name)
        setattr(owner, name, wrapper(original))
        self._undo.append(lambda: setattr(owner, name, original))

    def time_async(self, owner: Any, name: str, phase: str) -> None:
        def wrap(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Awaitable[Any]]:
            @functools.wraps(fn)
            def timed(*args: Any, **kw: Any) -> Awaitable[Any]:
                return _Stepped(fn(*args, **kw), phase, self.seconds)

            return timed

        self._patch(owner, name, wrap)

    def time_sync(self, owner: Any, name: str, phase: str) -> None:
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def timed(*args: Any, **kw: Any) -> Any:
                t0 = time.thread_time()
                try:
                    return fn(*args, **kw)
                finally:
                    self.seconds[phase] += time.thread_time() - t0

            return timed

        self._patch(owner, name, wrap)

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


@contextmanager
def phase_clock() -> Iterator[PhaseClock]:
    """Every phase wrapped until the block ends. Wrap before the app is built: the
    assessor is taken from the composition root when it is."""
    clock = PhaseClock()
    clock.time_async(FanOut, "run", "fanout")
    clock.time_sync(Release, "_made", "made")
    clock.time_sync(verifier.bootstrap, "assess_report_sections", "assess")
    clock.time_sync(ReportSigner, "sign", "sign")
    clock.time_async(Intake, "_record_intent", "intake")
    clock.time_async(Release, "_release_in", "release")
    clock.time_async(ChangeRecorder, "_made_ahead", "compare_ahead")
    clock.time_async(ChangeRecorder, "_compare", "compare_tx")
    clock.time_async(ChangeRecorder, "_record", "compare_tx")
    clock.time_async(changes_module, "still_holds", "compare_tx")
    clock.time_async(GroupCommitter, "_transaction", "tx")
    try:
        yield clock
    finally:
        clock.restore()


def split_ms(clock: PhaseClock, process_cpu_s: float, checks: int) -> dict[str, float]:
    """Milliseconds per check by the keys of :data:`LINES`."""
    ms = {k: 1000 * v / checks for k, v in clock.seconds.items()}
    out = {key: ms.get(key, 0.0) for key, _label, _depth in LINES}
    out["tx_only"] = ms.get("tx", 0.0) - sum(out[k] for k in _IN_TX)
    phases = sum(out[k] for k, _label, depth in LINES if depth == 0 and k != "other")
    out["other"] = 1000 * process_cpu_s / checks - phases
    return out


def print_split(kind: str, split: dict[str, float], total_ms: float) -> None:
    print(f"  {kind}: CPU per verification {total_ms:6.1f} ms (checks one at a time)")
    for key, label, depth in LINES:
        indent = "      of which " if depth else "    "
        print(f"{indent}{label:<{68 - len(indent)}} {split[key]:6.1f} ms")


__all__ = ["LINES", "PhaseClock", "phase_clock", "print_split", "split_ms"]
