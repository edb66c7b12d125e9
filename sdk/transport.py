"""HTTP to the server: one kept-alive connection, gzip, and the rule for what to do with each answer."""
from __future__ import annotations

import base64
import email.utils
import http.client
import json
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 1 << 20
MAX_RETRY_AFTER = 600.0  # a server asking for more is misconfigured; try again in ten minutes
# What a kept-alive connection the server has already closed looks like on the next request.
STALE = ("RemoteDisconnected", "BrokenPipeError", "ConnectionResetError")


class Verdict(Enum):
    """What the sender does next with a batch."""

    DELIVERED = "delivered"
    RETRY = "retry"  # network error, 5xx, 408, 429, 3xx
    SPLIT = "split"  # 413: send each half on its own
    DROP = "drop"  # any other 4xx: retrying cannot help


@dataclass
class Answer:
    """The server's answer to one batch; ``status`` 0 means no answer (network error)."""

    status: int
    detail: str = ""
    retry_after: float | None = None
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        status = self.status
        if 200 <= status < 300:
            return Verdict.DELIVERED
        # A redirect is not a refusal of the data: the batch is kept (and never re-sent, with the
        # write key, to wherever the redirect points) until the host is corrected.
        if status == 0 or status >= 500 or 300 <= status < 400 or status in (408, 429):
            return Verdict.RETRY
        if status == 413:
            return Verdict.SPLIT
        return Verdict.DROP

    @property
    def unavailable(self) -> bool:
        """The server is away, overloaded, failing or redirecting: retried for as long as it takes,
        so that an outage of any length loses nothing from the spool (only 408 has a limit)."""
        return self.verdict is Verdict.RETRY and self.status != 408


@dataclass
class Prepared:
    """A request body but for its end: ``finish(tail)`` gives the bytes that follow ``head``."""

    head: bytes
    finish: Callable[[bytes], bytes]


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After wins when it gives one."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    return random.uniform(0, min(cap, base * (2 ** min(attempt, 30))))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - time.time())


class Transport:
    """Posts batches to ``{host}/v1/batch`` over one kept-alive connection."""

    def __init__(self, host: str, write_key: str, timeout: float, compress: bool, user_agent: str) -> None:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"host must be an http:// or https:// URL, not {host!r}")
        self._https = parts.scheme == "https"
        self._hostname = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/") + "/v1/batch"
        self.timeout = timeout
        self.compress = compress
        token = base64.b64encode(f"{write_key}:".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json",
                         "User-Agent": user_agent}
        self._conn: http.client.HTTPConnection | None = None
        self._payload = b""
        self._failure: str | None = None
        self._reused = False
        self._inherited: list[http.client.HTTPConnection] = []

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._hostname, self._port, timeout=self.timeout)
        return self._conn

    def post(self, bodies: list[bytes]) -> Answer:
        """Send one batch of encoded events and wait for the answer; never raises."""
        self.send(self.prepare(bodies))
        return self.receive()

    def prepare(self, bodies: list[bytes]) -> Prepared:
        """The request body for ``bodies``, compressed but for its ``sentAt``, which ``send``
        stamps: a batch prepared while the previous one is in flight may leave much later, and
        the server dates its events by the gap between ``sentAt`` and their timestamps."""
        head = b'{"batch":[' + b",".join(bodies) + b'],"sentAt":"'
        if not self.compress:
            return Prepared(head, lambda tail: tail)
        # Level 1: most of the size win for a fraction of the CPU of the default level 9.
        gzip_stream = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return Prepared(gzip_stream.compress(head), lambda tail: gzip_stream.compress(tail) + gzip_stream.flush())

    def send(self, prepared: Prepared) -> None:
        """Start a request; ``receive()`` gets its answer (the two halves let the sender prepare
        the next batch while the server works on this one)."""
        sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").encode()
        self._payload = prepared.head + prepared.finish(sent_at + b'"}')
        self._failure = self._send(self._payload)

    def receive(self) -> Answer:
        """The answer to the request ``send()`` started; never raises."""
        answer = self._read() if self._failure is None else Answer(0, detail=self._failure)
        if answer.status == 0 and self._reused and answer.detail.startswith(STALE):
            # The server closed an idle kept-alive connection: resend once on a fresh one.
            self._failure = self._send(self._payload)
            answer = self._read() if self._failure is None else Answer(0, detail=self._failure)
        self._payload = b""
        return answer

    def _send(self, payload: bytes) -> str | None:
        conn = self._connection()
        self._reused = conn.sock is not None
        headers = dict(self._headers)
        if self.compress:
            headers["Content-Encoding"] = "gzip"
        try:
            conn.request("POST", self._path, payload, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return f"{type(exc).__name__}: {exc}"
        return None

    def _read(self) -> Answer:
        conn = self._connection()
        try:
            response = conn.getresponse()
            data = response.read(MAX_ANSWER_BYTES)
            if not response.isclosed() or response.will_close:
                self.close()  # an unread tail or "Connection: close" leaves it unusable
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(0, detail=f"{type(exc).__name__}: {exc}")
        answer = Answer(response.status, retry_after=parse_retry_after(response.getheader("Retry-After")))
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict):
            if 200 <= answer.status < 300 and isinstance(parsed.get("rejected"), list):
                answer.rejected = [r for r in parsed["rejected"] if isinstance(r, dict)]
            error = parsed.get("error")
            if isinstance(error, dict):
                answer.detail = str(error.get("message", ""))[:500]
        if 300 <= answer.status < 400:
            location = (response.getheader("Location") or "")[:200]
            answer.detail = (f"HTTP {answer.status}: the server redirects to {location or '(nowhere)'}; "
                             f"redirects are not followed, check the configured host")
        elif not answer.detail and answer.status >= 300:
            answer.detail = f"HTTP {answer.status}"
        return answer

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def after_fork(self) -> None:
        # The socket is shared with the parent: leave it alone and connect afresh.
        if self._conn is not None:
            self._inherited.append(self._conn)
        self._conn = None
