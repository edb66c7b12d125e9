"""The background work: encode what the caller queued, store it, deliver it in batches.

Named daemon threads share the job so that none waits on another:

* the **writer** wakes twice per ``write_interval`` (or when a batch is ready), encodes the
  caller's raw tuples into JSON and appends them to the queue (for the spool: one SQLite commit
  per chunk). This bounds what a crash can lose to the last ``write_interval``, even while the
  network hangs. A caller faster than the writer is held to that bound too: once the oldest
  unspooled event is a quarter of a ``write_interval`` old, or the backlog is more than the
  writer commits in an eighth of one (measured as it runs), the calling thread waits for the
  writer before its event is queued (back-pressure). The rest of the interval is the margin
  for the commit in progress and for a busy machine's scheduling. With a spool the writer is
  also woken every CHECK_AT events, so that a moderate rate never needs to wait.
* the **sender** claims batches from the queue and posts them, retrying with backoff; it is the
  only thread that ever waits on the network;
* with a spool, the **checkpointer** folds SQLite's write-ahead log into the file twice a
  second, so that no commit waits for a checkpoint's fsync.

``flush()`` puts a marker in the caller's deque; the writer, once it has written everything
before it, turns it into "the highest id in the queue" (with a spool, that includes what earlier
or other processes left there), and the sender sets it once every event up to that id has left
the queue.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from .errors import DeliveryFailed, EventRejected, EventTooLarge, NotDelivered, QueueFull, RecapError, Unreachable
from .queue import EventQueue, Item
from .transport import Answer, Transport, Verdict, backoff

log = logging.getLogger(__name__)

WRITE_CHUNK = 1000  # events per spool transaction: the sender can start on the first one sooner
FIRST_COST = 25e-6  # seconds to encode and spool one event, until the writer has measured it
CHECK_AT = 64  # callers look at the backlog's age and size once it holds this many events
CHECKPOINT_INTERVAL = 0.5  # seconds between spool checkpoints while events are being written
STATS_WAIT = 0.1  # how long stats() waits for the writer to finish a chunk before counting without it


class FlushMarker(NamedTuple):
    """What ``flush()`` queues behind the caller's events (a tuple subclass: ``queued_at`` is
    last, where an event tuple has its ``time.time()``, for the callers' age check)."""

    done: threading.Event
    queued_at: float


@dataclass
class Stats:
    """Counters since the client started; every event lost is in exactly one ``dropped_*``."""

    encoded: int = 0
    delivered: int = 0
    batches: int = 0
    retries: int = 0
    dropped_queue_full: int = 0
    dropped_invalid: int = 0
    dropped_rejected: int = 0
    dropped_refused: int = 0
    dropped_at_exit: int = 0
    sampled_out: int = 0

    def as_dict(self) -> dict[str, int]:
        values = asdict(self)
        values["dropped"] = sum(v for k, v in values.items() if k.startswith("dropped_"))
        return values


@dataclass
class Settings:
    batch_size: int
    max_batch_bytes: int
    max_event_bytes: int
    flush_interval: float
    write_interval: float
    max_inbox: int
    retry_base: float
    retry_cap: float
    max_retries: int


class Worker:
    """Owns the caller's deque, the queue, the transport and the two threads."""

    def __init__(self, encode: Callable[[tuple[Any, ...]], bytes], queue: EventQueue, transport: Transport,
                 settings: Settings, report: Callable[[RecapError], None]) -> None:
        self.encode = encode
        self.queue = queue
        self.transport = transport
        self.settings = settings
        self.report = report
        self.stats = Stats()
        self.inbox: deque[Any] = deque()
        self.inbox_full = 0  # bumped by callers when the inbox is at its bound
        # What callers check before queueing (``behind``): with a spool, a backlog older than
        # ``window`` or larger than ``backlog_cap`` makes them wait for the writer; in memory only
        # ``max_inbox`` counts, and past it events are dropped. (A quarter of the interval: see
        # the module docstring.)
        durable = queue.durable
        self.check_at = CHECK_AT if durable else settings.max_inbox
        self.wake_at = min(CHECK_AT, settings.batch_size) if durable else settings.batch_size
        self.window = settings.write_interval / 4 if durable else float("inf")
        self._cost = FIRST_COST
        self.backlog_cap, self._chunk = settings.max_inbox, WRITE_CHUNK
        if durable:
            self._measured(FIRST_COST)
        self._reset_sync_state()
        self._threads: list[threading.Thread] = []
        self._started = self._stopped = False
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _call(ref, "_after_fork"))

    def _reset_sync_state(self) -> None:
        self._lock = threading.Lock()
        self._marker_lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._wake_writer = threading.Event()
        self._progress = threading.Event()  # set by each write: callers held back wait on it
        self._wake_sender = threading.Event()
        self._retry_now = threading.Event()
        self._wake_checkpointer = threading.Event()  # only to stop it
        self._wrote_since_checkpoint = False
        self._markers: list[tuple[int, threading.Event]] = []
        self._unwritten: list[bytes] = []
        self._written_since_wake = 0
        self._reported_full = 0
        self._stop_writer = self._stop_sender = False
        self._in_outage = False
        self._stalled = False  # a held-back caller saw no write for a write_interval; cleared by a write
        self._in_hand_since = float("inf")  # time.time() of the oldest event in the writer's chunk

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._started = True
        self._threads = [threading.Thread(target=self._write_loop, name="recap-sdk-writer", daemon=True),
                         threading.Thread(target=self._send_loop, name="recap-sdk-sender", daemon=True)]
        if self.queue.durable:
            self._threads.append(threading.Thread(target=self._checkpoint_loop, name="recap-sdk-checkpoint",
                                                  daemon=True))
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        self._wake_writer.set()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before the call is delivered (or dropped), at most ``timeout``."""
        if not self._started:
            return self.run_sync(time.monotonic() + timeout)
        if self._idle():
            return True
        done = threading.Event()
        self.inbox.append(FlushMarker(done, time.time()))
        self._wake_writer.set()
        self._retry_now.set()  # cut a backoff short: the caller wants an attempt now
        return done.wait(max(0.0, timeout))

    def shutdown(self, timeout: float) -> bool:
        """Flush within ``timeout``, stop the threads, and account for whatever is left."""
        deadline = time.monotonic() + max(0.0, timeout)
        if self._stopped:
            return True
        delivered = self.flush(timeout)
        self._stopped = True
        self._stop_writer = self._stop_sender = True
        for event in (self._wake_writer, self._wake_sender, self._retry_now, self._wake_checkpointer):
            event.set()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.queue.durable:
            self._spool_the_rest()
        left = self.waiting(max(0.0, deadline - time.monotonic()))
        if left and not self.queue.durable:
            self.stats.dropped_at_exit += left
            self.report(NotDelivered(f"{left} events were not delivered before shutdown.", left))
        elif left:
            log.info("recap: %d events stay in the spool %s for the next run", left,
                     getattr(self.queue, "path", ""))
        if not any(thread.is_alive() for thread in self._threads):
            self.transport.close()
            self.queue.close()
        return delivered and not left

    def _spool_the_rest(self) -> None:
        """Write what is still in memory to the spool, whatever the timeout: the next process
        delivers it. Back-pressure keeps it to what the writer commits in a fraction of a
        ``write_interval``; a spool that cannot be written within one is given up on."""
        wait = self.settings.write_interval
        if not self._drain_lock.acquire(timeout=wait):
            return
        try:
            while (self.inbox or self._unwritten) and self._drain_chunk(wait):
                pass
        finally:
            self._drain_lock.release()

    def _idle(self) -> bool:
        """Nothing queued; False when unsure (the writer is busy with a chunk)."""
        if not self._drain_lock.acquire(blocking=False):
            return False
        try:
            return not self.inbox and not self._unwritten and not self.queue.pending()
        finally:
            self._drain_lock.release()

    def waiting(self, timeout: float = STATS_WAIT) -> int:
        """Events not yet delivered: in the caller's deque (flush markers aside), the writer's
        chunk or the queue. Exact if the writer finishes its chunk within ``timeout``; a spool
        write can wait seconds on another process, and then the count is taken without it."""
        # A memory queue's writer is never held up: waiting for it keeps "left at exit" exact.
        exact = self._drain_lock.acquire(timeout=timeout if self.queue.durable else -1)
        try:
            in_inbox = sum(1 for item in list(self.inbox) if item.__class__ is tuple)  # (not markers)
            return in_inbox + len(self._unwritten) + self.queue.pending()
        finally:
            if exact:
                self._drain_lock.release()

    def _after_fork(self) -> None:
        self._reset_sync_state()
        self.inbox.clear()  # the parent will deliver what it had queued
        self.queue.after_fork()
        self.transport.after_fork()
        if self._started and not self._stopped:
            self.start()

    def run_sync(self, deadline: float) -> bool:
        """Do the threads' work in the calling thread (sync mode), until ``deadline``."""
        with self._lock:
            self._drain()
            self._send_available(deadline)
            return not self.queue.pending()

    # --- writer ------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            self._wake_writer.wait(self.settings.write_interval / 2)
            self._wake_writer.clear()
            stopping = self._stop_writer
            try:
                self._drain()
            except Exception:  # never let the thread die: the next round tries again
                log.exception("recap: writer failed")
            if stopping:
                return

    def _drain(self) -> None:
        while self.inbox or self._unwritten:
            with self._drain_lock:
                if not self._drain_chunk():
                    return
        self._report_full()
        if self._written_since_wake >= self.settings.batch_size:
            self._written_since_wake = 0
            self._wake_sender.set()

    def behind(self, now: float) -> bool:
        """True if the unspooled backlog is past what may wait for the writer: more than
        ``backlog_cap`` events, or its oldest (in the writer's chunk, else first in the deque)
        older than ``window``."""
        inbox = self.inbox
        oldest = self._in_hand_since
        if oldest == float("inf"):
            try:
                oldest = inbox[0][-1]
            except IndexError:  # the writer emptied it meanwhile
                return False
        return len(inbox) >= self.backlog_cap or now - oldest > self.window

    def wait_for_writer(self) -> bool:
        """Called by a caller that found the backlog ``behind``: with a spool it waits for the
        writer until it is not, so that what a SIGKILL can lose stays within ``write_interval``
        however fast the app tracks. (Waiting, not writing too: two threads sharing the GIL
        spool slower than one.) It waits at most one ``write_interval``; if the writer wrote
        nothing in that time (another process holds the spool's lock, the disk stalls), callers
        stop waiting and events wait in memory until a write succeeds. True if the caller's
        event may be queued."""
        settings = self.settings
        if not self.queue.durable or not self._started or self._stopped:
            return False
        wait = settings.write_interval
        deadline = time.monotonic() + wait
        while not self._stalled and time.monotonic() < deadline:
            # (past the deadline the event is queued anyway: a backlog a stall left behind is
            # worked off one interval per call, not in one long call)
            self._progress.clear()
            if not self.behind(time.time()):
                break
            self._wake_writer.set()
            if not self._progress.wait(wait):
                self._stalled = True  # the writer wrote nothing for a whole interval
        return len(self.inbox) < settings.max_inbox

    def _drain_chunk(self, timeout: float | None = None) -> bool:
        """Encode and write one chunk (up to WRITE_CHUNK events, fewer on a slow machine), stopping
        at a flush marker; False if the write failed or would wait over ``timeout`` (the events
        are kept for the next round)."""
        started = time.perf_counter()
        inbox, encode_one = self.inbox, self._encode_one
        bodies = self._unwritten  # the chunk stays there (counted by waiting()) until it is written
        marker = None
        if not bodies:
            try:
                self._in_hand_since = inbox[0][-1]
            except IndexError:
                return True
        while len(bodies) < self._chunk:
            try:
                item = inbox.popleft()
            except IndexError:
                break
            if item.__class__ is tuple:
                body = encode_one(item)
                if body is not None:
                    bodies.append(body)
            else:
                marker = item  # a FlushMarker: everything before it must be written first
                break
        count = len(bodies)
        if bodies and not self._write(bodies, timeout):
            if marker is not None:
                inbox.appendleft(marker)
            return False
        self._in_hand_since = float("inf")
        if count >= CHECK_AT and self.queue.durable:
            self._measured((time.perf_counter() - started) / count)
        if marker is not None:
            with self._marker_lock:
                self._markers.append((self.queue.highest_id(), marker.done))
            self._wake_sender.set()
        return True

    def _measured(self, cost: float) -> None:
        """Fold in the seconds one event took to encode and spool (wall time, so a busy machine
        counts), and size the backlog from it: what the writer commits in half a ``window``
        (it shares the CPU with the callers). A chunk is never larger, so no commit in progress
        holds events much longer than that."""
        self._cost = cost = (self._cost + cost) / 2
        self.backlog_cap = max(CHECK_AT, min(self.settings.max_inbox, int(self.window / 2 / cost)))
        self._chunk = min(WRITE_CHUNK, self.backlog_cap)

    def _write(self, bodies: list[bytes], timeout: float | None = None) -> bool:
        try:
            dropped = self.queue.put(bodies, timeout)
        except (sqlite3.Error, OSError) as exc:
            # (a shutdown writing with a timeout may find the spool busy)
            log.log(logging.WARNING if timeout is None else logging.DEBUG,
                    "recap: could not write %d events to the queue (%s); retrying", len(bodies), exc)
            keep = max(0, self.settings.max_inbox - len(self.inbox))
            if len(bodies) > keep:
                self._dropped_full(len(bodies) - keep)
            self._unwritten = bodies[:keep]
            return False
        self._unwritten = []
        self._stalled = False
        self._wrote_since_checkpoint = True
        self._progress.set()
        self._written_since_wake += len(bodies) - dropped
        if dropped:
            self._dropped_full(dropped)
        return True

    def _encode_one(self, item: tuple[Any, ...]) -> bytes | None:
        try:
            body = self.encode(item)
        except Exception as exc:
            # The caller's objects may raise anything (a Mapping, an aware datetime near year 1, a
            # dict it changes meanwhile): this event is lost, never the rest of its chunk.
            self.stats.dropped_invalid += 1
            self.report(EventTooLarge(f"An event could not be encoded as JSON ({type(exc).__name__}: {exc}); "
                                      "dropped.", 1))
            return None
        if len(body) > self.settings.max_event_bytes:
            self.stats.dropped_invalid += 1
            self.report(EventTooLarge(f"An event of {len(body)} bytes is over the "
                                      f"{self.settings.max_event_bytes}-byte limit; dropped.", 1))
            return None
        self.stats.encoded += 1
        return body

    def _report_full(self) -> None:
        full = self.inbox_full - self._reported_full
        if full > 0:
            self._reported_full = self.inbox_full
            self._dropped_full(full)

    def _dropped_full(self, count: int) -> None:
        self.report(QueueFull(f"{count} events were dropped because the queue is full.", count))
        self.stats.dropped_queue_full += count

    def _checkpoint_loop(self) -> None:
        """Fold the spool's WAL into its file every CHECKPOINT_INTERVAL while events are written,
        in a thread of its own: the checkpoint's fsync never holds up a commit (or a caller)."""
        while not self._stop_sender:
            self._wake_checkpointer.wait(CHECKPOINT_INTERVAL)
            if self._stop_sender or not self._wrote_since_checkpoint:
                continue
            self._wrote_since_checkpoint = False
            try:
                self.queue.checkpoint()
            except Exception:  # (sqlite3.Error: another process checkpointing) the next round tries again
                log.exception("recap: spool checkpoint failed")

    # --- sender ------------------------------------------------------------------------------
    def _send_loop(self) -> None:
        while not self._stop_sender:
            self._wake_sender.wait(self.settings.flush_interval)
            self._wake_sender.clear()
            try:
                self._send_available(None)
            except Exception:
                log.exception("recap: sender failed")

    def _send_available(self, deadline: float | None) -> None:
        """Send every batch there is. While the server works on one batch, the next is claimed
        and compressed, and it goes out as soon as the answer is in (before the first is acked)."""
        settings, transport = self.settings, self.transport

        def claim() -> list[Item]:
            return self.queue.claim(settings.batch_size, settings.max_batch_bytes)

        in_flight: list[Item] = []
        while in_flight or not self._stop_sender:
            if not in_flight:
                in_flight = claim()
                if not in_flight:
                    break
                transport.send(transport.prepare([body for _, body in in_flight]))
            upcoming = [] if self._stop_sender else claim()
            prepared = transport.prepare([body for _, body in upcoming]) if upcoming else None
            answer = transport.receive()
            if answer.verdict is Verdict.DELIVERED:
                if prepared is not None:
                    transport.send(prepared)
                self._delivered(in_flight, answer)
                in_flight = upcoming
            else:
                self.queue.release(upcoming)
                delivered = self._deliver(in_flight, deadline, answer)
                in_flight = []
                if not delivered:
                    break
            self._settle_markers()
        self._settle_markers()

    def _settle_markers(self) -> None:
        if not self._markers:
            return
        lowest = self.queue.lowest_id()
        with self._marker_lock:
            waiting = []
            for mark, done in self._markers:
                if lowest is None or lowest > mark:
                    done.set()
                else:
                    waiting.append((mark, done))
            self._markers = waiting

    def _deliver(self, batch: list[Item], deadline: float | None, answer: Answer | None = None) -> bool:
        """Post ``batch`` until it is delivered or dropped, starting from the ``answer`` to a first
        attempt if there was one; False if stopped first (the batch is released)."""
        parts = [batch]
        while parts:
            part = parts.pop()
            attempt = 0
            while True:
                if answer is None:
                    answer = self.transport.post([body for _, body in part])
                current, answer = answer, None  # the next attempt posts afresh
                verdict = current.verdict
                if verdict is Verdict.DELIVERED:
                    self._delivered(part, current)
                    break
                if verdict is Verdict.SPLIT and len(part) > 1:
                    half = len(part) // 2
                    parts += [part[half:], part[:half]]
                    break
                if verdict is not Verdict.RETRY or (not current.unavailable and attempt >= self.settings.max_retries):
                    self._refused(part, current)
                    break
                attempt += 1
                self.stats.retries += 1
                self._note_outage(current)
                delay = backoff(attempt, self.settings.retry_base, self.settings.retry_cap, current.retry_after)
                if self._interrupted(delay, deadline, strict=current.retry_after is not None):
                    self.queue.release(part + [item for rest in parts for item in rest])
                    return False
                self.queue.renew(part)
        return True

    def _interrupted(self, delay: float, deadline: float | None, strict: bool) -> bool:
        """Wait ``delay``; True if the worker is stopping. A flush cuts the wait short unless the
        server asked for it (``strict``: Retry-After)."""
        if deadline is not None:  # sync mode: sleep in the caller's thread, never past the deadline
            remaining = deadline - time.monotonic()
            time.sleep(max(0.0, min(delay, remaining)))
            return delay >= remaining
        until = time.monotonic() + delay
        while (left := until - time.monotonic()) > 0:
            if self._retry_now.wait(left):
                self._retry_now.clear()
                if self._stop_sender:
                    return True
                if not strict:
                    break
        return self._stop_sender

    def _delivered(self, part: list[Item], answer: Answer) -> None:
        self.queue.ack(part)
        self.stats.batches += 1
        self.stats.delivered += len(part) - len(answer.rejected)
        if self._in_outage:
            self._in_outage = False
            log.info("recap: delivering again")
        for entry in answer.rejected:
            self.stats.dropped_rejected += 1
            self.report(EventRejected(f"The server refused an event: {entry.get('message', '')}",
                                      field=entry.get("field"), code=entry.get("code")))

    def _refused(self, part: list[Item], answer: Answer) -> None:
        self.queue.ack(part)
        self.stats.dropped_refused += len(part)
        self.report(DeliveryFailed(f"The server refused a batch of {len(part)} events "
                                   f"({answer.detail or answer.status}); dropped.", len(part), answer.status))

    def _note_outage(self, answer: Answer) -> None:
        if not self._in_outage:
            self._in_outage = True
            self.report(Unreachable(f"Cannot deliver events ({answer.detail}); retrying with backoff."))


def _call(ref: weakref.ref[Worker], method: str) -> None:
    target = ref()
    if target is not None:
        try:
            getattr(target, method)()
        except Exception:
            log.exception("recap: %s failed", method)
