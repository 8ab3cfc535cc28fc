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
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

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

# The phases whose steps are running now, innermost last: a statement is counted in the
# innermost one ("tx" when in a write transaction but no phase inside it, "other" when
# in none). One event loop thread runs every phase, so a plain list is enough.
_ACTIVE: list[str] = []
_UNCOUNTED = "uncounted"


def uncounted(coro: Coroutine[Any, Any, Any]) -> Awaitable[Any]:
    """``coro`` awaited with its own statements not counted (the benchmark's reads):
    only its steps are left out, not what other tasks run while it waits."""
    return _Stepped(coro, _UNCOUNTED, defaultdict(float))


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
            _ACTIVE.append(self._phase)
            try:
                step = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as done:
                return done.value
            finally:
                _ACTIVE.pop()
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
                _ACTIVE.append(phase)
                try:
                    return fn(*args, **kw)
                finally:
                    _ACTIVE.pop()
                    self.seconds[phase] += time.thread_time() - t0

            return timed

        self._patch(owner, name, wrap)

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


class StatementCount:
    """SQL statements sent to the database, by the phase that sent them and by text.

    Counted at SQLAlchemy's ``before_cursor_execute`` on every engine: one count per
    round trip (an ``executemany`` is one). The driver's own statements outside
    SQLAlchemy's execution are not seen here: PostgreSQL's COPY of audit rows, and the
    pool's pre-ping (a ``SELECT 1`` round trip per connection checkout, counted apart as
    ``checkouts``)."""

    def __init__(self) -> None:
        self.by_phase: Counter[str] = Counter()
        self.by_text: Counter[str] = Counter()
        self.checkouts = 0

    def _seen(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        phase = _ACTIVE[-1] if _ACTIVE else "other"
        if phase == _UNCOUNTED:
            return
        self.by_phase[phase] += 1
        self.by_text[f"{phase:<13} {' '.join(statement.split())[:110]}"] += 1

    def _checkout(self, *_args: Any) -> None:
        if not (_ACTIVE and _ACTIVE[-1] == _UNCOUNTED):
            self.checkouts += 1

    def clear(self) -> None:
        self.by_phase.clear()
        self.by_text.clear()
        self.checkouts = 0

    def __enter__(self) -> StatementCount:
        event.listen(Engine, "before_cursor_execute", self._seen)
        event.listen(Pool, "checkout", self._checkout)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._seen)
        event.remove(Pool, "checkout", self._checkout)


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


def statements_per_check(count: StatementCount, checks: int) -> dict[str, float]:
    """Statements per check by the keys of :data:`LINES` (a write transaction's own
    statements — BEGIN, audit head lock and append, commit — under ``tx_only``)."""
    out = {key: count.by_phase.get(key, 0) / checks for key, _label, _depth in LINES}
    out["tx_only"] = count.by_phase.get("tx", 0) / checks
    return out


def print_split(
    kind: str,
    split: dict[str, float],
    total_ms: float,
    statements: dict[str, float] | None = None,
) -> None:
    """The CPU split (and, given, statements per check in each phase)."""
    per_check = f", {sum(statements.values()):.1f} statements" if statements else ""
    print(f"  {kind}: CPU per verification {total_ms:6.1f} ms{per_check} (checks one at a time)")
    for key, label, depth in LINES:
        indent = "      of which " if depth else "    "
        stmts = f" {statements[key]:6.1f} stmt" if statements else ""
        print(f"{indent}{label:<{68 - len(indent)}} {split[key]:6.1f} ms{stmts}")


def print_checkouts(kind: str, count: StatementCount, checks: int) -> None:
    """Connection checkouts per check (on PostgreSQL each pays a pre-ping round trip)."""
    ping = " (each a pre-ping SELECT 1 round trip)" if kind == "postgresql" else ""
    print(f"    connection checkouts per verification {count.checkouts / checks:.1f}{ping}")


def print_statements(count: StatementCount, checks: int) -> None:
    """Every statement text (shortened) with how many times one check sends it."""
    for text, n in sorted(count.by_text.items()):
        print(f"      {n / checks:5.2f}  {text}")


__all__ = [
    "LINES",
    "PhaseClock",
    "StatementCount",
    "phase_clock",
    "print_checkouts",
    "print_split",
    "print_statements",
    "split_ms",
    "statements_per_check",
    "uncounted",
]
