"""A background thread that applies call-record operations in order, through outages.

The asyncio controller must never wait for the database (a slow commit would delay
every caller's next prompt), so it only ``submit``s operations. One thread applies them
in submission order, each with a fresh Session. While the database is unreachable the
operation at the head is retried with capped exponential backoff and everything behind
it waits, so nothing is lost and an end is never applied before its start. The
operations (``ticketdb.call_log``) are idempotent, which makes retrying one whose
commit outcome is unknown harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

Op = Callable[[Session], object]

# Errors that retrying can never fix: the operation (not the database) is at fault.
_PERMANENT = (
    sa_exc.IntegrityError,
    sa_exc.DataError,
    sa_exc.ProgrammingError,
    sa_exc.NotSupportedError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` means "database unavailable" (retry) rather than "bad operation"."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or not isinstance(exc, _PERMANENT)
    # Pool exhausted / a connection failed the pre-ping and could not be replaced.
    return isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError)


class RecordWriter:
    """Applies submitted ``op(session)`` calls one at a time, in submission order.

    Counters (read from any thread): ``applied``, ``retries`` (failed attempts that
    were retried), ``dropped`` (operations that failed with a non-database error and
    were logged and skipped) and ``backlog`` (submitted, not yet applied or dropped).
    """

    def __init__(self, engine: Engine, retry_initial: float = 0.05, retry_max: float = 2.0) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.applied = 0
        self.retries = 0
        self.dropped = 0
        self._cond = threading.Condition()
        self._queue: deque[Op] = deque()
        self._submitted = 0
        self._finished = 0  # applied + dropped
        self._closing = False
        self._abort = False
        self._thread: threading.Thread | None = None
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def backlog(self) -> int:
        with self._cond:
            return len(self._queue)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("RecordWriter already started")
        # Daemon: a driver call hung on a dead network must not keep the process alive.
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Op) -> None:
        """Queue ``op``; never blocks on the database. Callable from any thread."""
        with self._cond:
            if self._closing:
                raise RuntimeError("RecordWriter is closed")
            self._queue.append(op)
            self._submitted += 1
            self._cond.notify_all()

    async def drain(self, timeout: float) -> None:
        """Wait until every operation submitted so far is applied (or dropped).

        Raises TimeoutError after ``timeout`` seconds; the operations stay queued.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = (0, loop, future)
        with self._cond:
            if self._finished >= self._submitted:
                return
            waiter = (self._submitted, loop, future)
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{self.backlog} call-record operation(s) still pending after {timeout}s"
            ) from None
        finally:
            with self._cond:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting operations, apply what is queued, and stop the thread.

        Waits at most ``timeout`` seconds (e.g. while the database is down); whatever
        is still queued then is abandoned with a warning — the controller rebuilds
        those records from live channel state on its next start.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                with self._cond:
                    self._abort = True
                    self._cond.notify_all()
                # Only an operation stuck inside the driver outlives this; it's a daemon.
                thread.join(1.0)
        if self.backlog:
            log.warning("record writer closed with %d operation(s) not applied", self.backlog)

    # -- the writer thread -----------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if self._abort or not self._queue:
                    return
                op = self._queue[0]
            if not self._apply(op):
                return
            with self._cond:
                self._queue.popleft()
                self._finished += 1
                self._wake_waiters()

    def _apply(self, op: Op) -> bool:
        """Run ``op`` until it commits or is dropped; False if aborted while retrying."""
        delay = self.retry_initial
        failures = 0
        while True:
            try:
                with self._sessions() as session:
                    op(session)
                    session.commit()  # for ops that leave their work uncommitted
            except Exception as exc:
                if not is_transient(exc):
                    self.dropped += 1
                    log.exception("call-record operation %r failed; dropped", op)
                    return True
                failures += 1
                self.retries += 1
                if failures == 1:
                    log.warning(
                        "database unavailable (%s); retrying call-record writes", _brief(exc)
                    )
                else:
                    log.debug("retry %d failed: %s", failures, _brief(exc))
                with self._cond:
                    if self._cond.wait_for(lambda: self._abort, timeout=delay):
                        return False
                delay = min(delay * 2, self.retry_max)
                continue
            self.applied += 1
            if failures:
                log.info("database back; call-record write applied after %d retries", failures)
            return True

    def _wake_waiters(self) -> None:
        """Resolve drain() futures whose operations are all done (lock held)."""
        remaining = []
        for waiter in self._waiters:
            target, loop, future = waiter
            if target <= self._finished:
                # RuntimeError: that event loop is closed, so nobody is waiting.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, future)
            else:
                remaining.append(waiter)
        self._waiters = remaining


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # it may have timed out meanwhile
        future.set_result(None)


def _brief(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}: {orig if orig is not None else exc}".splitlines()[0]
