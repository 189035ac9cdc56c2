"""A real SMTP server in the test process (aiosmtpd), and Django settings that send to it.

Register with `pytest_plugins = ["tests.smtp"]` in tests/conftest.py, then:

    def test_x(smtp_settings, smtp_server):
        ...                                   # code under test sends mail through Django
        [message] = smtp_server.wait_for(1)   # email.message.EmailMessage, policy=default

    smtp_server.refuse_with(421)              # RCPT answered "421 ..." until accept()
    smtp_server.refuse_with(550, at="data")   # or the DATA command answered
    smtp_server.refuse_with(550, to="x@y.example")  # only that address (its RCPT, or its DATA)
    smtp_server.accept()                      # back to normal
    smtp_server.hold()                        # DATA waits (bounded) until release()
    smtp_server.wait_until_held(timeout=5)    # a client is now inside DATA
    smtp_server.release()
    smtp_server.connections                   # SMTP sessions opened so far (counted at EHLO)
    smtp_server.message_connections           # the session (1, 2, ...) each message came over
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO: noise in a failing test's output.
logging.getLogger("mail.log").setLevel(logging.WARNING)

HOST = "127.0.0.1"
HOLD_BOUND_SECONDS = (
    30.0  # a held DATA gives up after this: a forgotten release() cannot hang the suite
)
POLL_SECONDS = 0.01

_TEXTS = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.1 Mailbox temporarily unavailable",
    451: "4.3.0 Local error in processing, try again later",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Mailbox unavailable",
    552: "5.3.4 Message size exceeds fixed maximum",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.7.1 Transaction failed",
}


def _free_port() -> int:
    # aiosmtpd's Controller needs a concrete port (it connects to itself to check it is up).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class SMTPServer:
    """The handler aiosmtpd calls, and the test's controls over it. Thread-safe: aiosmtpd runs
    in its own thread, the test in the main one."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) per message
        self.abandoned = 0  # held messages whose client went away before the answer
        self.connections = 0  # SMTP sessions that said EHLO (the server's own check does not)
        self.message_connections: list[int] = []  # per message, the session (1, 2, ...) it used
        self._lock = threading.Lock()
        self._refusal: tuple[str, str, str | None] | None = None  # (stage, reply, address)
        self._session_numbers: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._released = threading.Event()
        self._released.set()
        self._held = 0

    # --- controls ---------------------------------------------------------------------------

    def refuse_with(
        self,
        code: int,
        text: str | None = None,
        *,
        at: Literal["rcpt", "data"] = "rcpt",
        to: str | None = None,
    ) -> None:
        """Answer `code` to every RCPT (or DATA) until accept(); with `to`, only to the RCPT of
        that address (or the DATA of a message to it)."""
        reply = f"{code} {text or _TEXTS.get(code, 'Refused by the test server')}"
        with self._lock:
            self._refusal = (at, reply, to)

    def accept(self) -> None:
        with self._lock:
            self._refusal = None

    def hold(self) -> None:
        """Keep every DATA waiting (at most HOLD_BOUND_SECONDS, then 451) until release()."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    @property
    def held(self) -> int:
        """How many clients are waiting inside DATA right now."""
        with self._lock:
            return self._held

    def wait_until_held(self, n: int = 1, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.held < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no client reached DATA within {timeout} s ({self.held} held)")
            time.sleep(POLL_SECONDS)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages received, once there are at least `n` (TimeoutError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
                count = len(self.messages)
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} message(s) within {timeout} s, got {count}")
            time.sleep(POLL_SECONDS)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.message_connections.clear()

    # --- aiosmtpd hooks -----------------------------------------------------------------------

    def _refusal_at(self, stage: str, addresses: list[str]) -> str | None:
        with self._lock:
            if self._refusal is not None:
                at, reply, to = self._refusal
                if at == stage and (to is None or to in addresses):
                    return reply
        return None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        with self._lock:
            if session not in self._session_numbers:  # a second EHLO is the same session
                self.connections += 1
                self._session_numbers[session] = self.connections
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._refusal_at("rcpt", [address])
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self._released.is_set():
            with self._lock:
                self._held += 1
            try:
                deadline = time.monotonic() + HOLD_BOUND_SECONDS
                while not self._released.is_set():
                    if time.monotonic() > deadline:
                        return "451 4.3.0 Held too long by the test server"
                    await asyncio.sleep(POLL_SECONDS)
            except asyncio.CancelledError:
                # The client went away while we held its message (aiosmtpd cancels the session):
                # it never heard "accepted", so the message counts as not delivered.
                with self._lock:
                    self.abandoned += 1
                raise
            finally:
                with self._lock:
                    self._held -= 1
        refusal = self._refusal_at("data", envelope.rcpt_tos)
        if refusal is not None:
            return refusal
        content = envelope.original_content or envelope.content
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.message_connections.append(self._session_numbers.get(session, 0))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server on 127.0.0.1 and a free port, for one test."""
    server = SMTPServer()
    controller = Controller(server, hostname=HOST, port=_free_port(), ready_timeout=5.0)
    controller.start()
    server.port = controller.port
    try:
        yield server
    finally:
        server.release()  # let a held DATA finish so the server thread can stop
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Any, smtp_server: SMTPServer) -> SMTPServer:
    """Django's mail settings pointed at `smtp_server`, with short timeouts and retries."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.JOB_RETRY_BASE_SECONDS = 0.01
    return smtp_server
