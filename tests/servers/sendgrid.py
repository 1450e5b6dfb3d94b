"""A stand-in for SendGrid's `/v3/mail/send` on loopback: validates every request, answers as scripted.

Every request is checked against SendGrid's official OpenAPI description (vendored in ``sendgrid_spec/``,
MIT) and the limits the schema cannot express (DESIGN "SendGrid reference"). A valid request is recorded
and expanded into the messages SendGrid would deliver (substitutions applied), so tests compare what each
reader gets. Answers can be scripted: 202, 400, 401, 413, 429 with a reset time, 500, or a stall.
``bench/`` imports it too.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SPEC = Path(__file__).parent / "sendgrid_spec" / "tsg_mail_v3.json"
MAX_REQUEST_BYTES = 30 * 1024 * 1024
MAX_PERSONALIZATIONS = 1000
MAX_ARGS_BYTES = 10_000


@cache
def mail_send_validator() -> Draft202012Validator:
    """A validator for `/v3/mail/send` request bodies built from the vendored official schema."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    body = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    # The official file types the top-level custom_args as a string; the API takes an object of strings.
    body["properties"]["custom_args"] = {"type": "object", "additionalProperties": {"type": "string"}}
    schema = {**body, "components": spec["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _size(mapping: dict[str, Any]) -> int:
    return sum(len(str(k).encode()) + len(str(v).encode()) for k, v in mapping.items())


def mail_send_problems(payload: Any, raw_size: int = 0) -> list[str]:
    """Every reason SendGrid would refuse ``payload``: schema errors first, then the documented limits."""
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in mail_send_validator().iter_errors(payload)
    ]
    if problems or not isinstance(payload, dict):
        return problems or ["body is not a JSON object"]
    if raw_size > MAX_REQUEST_BYTES:
        problems.append(f"request of {raw_size} bytes exceeds 30 MB")
    personalizations = payload["personalizations"]
    if len(personalizations) > MAX_PERSONALIZATIONS:
        problems.append(f"{len(personalizations)} personalizations (at most {MAX_PERSONALIZATIONS})")
    seen: set[str] = set()
    for index, personalization in enumerate(personalizations):
        for kind in ("to", "cc", "bcc"):
            for recipient in personalization.get(kind, []):
                address = recipient["email"].casefold()
                if address in seen:
                    problems.append(f"personalizations/{index}: {recipient['email']} appears twice in the request")
                seen.add(address)
        for name in ("substitutions", "custom_args", "headers"):
            values = personalization.get(name, {})
            if not all(isinstance(v, str) for v in values.values()):
                problems.append(f"personalizations/{index}/{name}: values must be strings")
        args = _size(personalization.get("substitutions", {})) + _size(personalization.get("custom_args", {}))
        if args > MAX_ARGS_BYTES:
            problems.append(f"personalizations/{index}: substitutions and custom_args take {args} bytes")
    if not all(isinstance(v, str) for v in payload.get("headers", {}).values()):
        problems.append("headers: values must be strings")
    return problems


@dataclass(frozen=True)
class Answer:
    """One scripted answer: a status, a JSON body, headers, and seconds to stall before answering."""

    status: int = 202
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0

    @classmethod
    def rate_limited(cls, reset_in: float = 1.0) -> Answer:
        """A 429 whose X-RateLimit-Reset (epoch seconds) is ``reset_in`` seconds away."""
        reset = str(int(time.time() + reset_in))
        return cls(429, {"errors": [{"message": "too many requests"}]}, {"X-RateLimit-Reset": reset})


@dataclass(frozen=True)
class Delivered:
    """One message as SendGrid would deliver it: substitutions applied, headers and arguments merged."""

    to: str
    name: str | None
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]
    custom_args: dict[str, str]
    categories: list[str]
    sandbox: bool


def _substitute(value: str, substitutions: dict[str, str]) -> str:
    for tag, replacement in substitutions.items():
        value = value.replace(tag, replacement)
    return value


def expand(payload: dict[str, Any]) -> list[Delivered]:
    """The messages one valid request produces, one per `to` address."""
    contents = {part["type"]: part["value"] for part in payload.get("content", [])}
    sandbox = bool(payload.get("mail_settings", {}).get("sandbox_mode", {}).get("enable"))
    messages = []
    for personalization in payload["personalizations"]:
        substitutions = personalization.get("substitutions", {})
        subject = _substitute(personalization.get("subject", payload.get("subject", "")), substitutions)
        html = contents.get("text/html")
        for to in personalization["to"]:
            messages.append(
                Delivered(
                    to=to["email"],
                    name=to.get("name"),
                    subject=subject,
                    text=_substitute(contents.get("text/plain", ""), substitutions),
                    html=_substitute(html, substitutions) if html is not None else None,
                    headers={**payload.get("headers", {}), **personalization.get("headers", {})},
                    custom_args={**payload.get("custom_args", {}), **personalization.get("custom_args", {})},
                    categories=list(payload.get("categories", [])),
                    sandbox=sandbox,
                )
            )
    return messages


class SendGridStandIn:
    """A threaded HTTP server on 127.0.0.1 speaking POST /v3/mail/send; use it as a context manager."""

    def __init__(
        self, *, api_key: str = "SG.test-key", delay: float = 0.0, validate_every: int = 1, keep: bool = True
    ) -> None:
        """``validate_every``: check every n-th request against the schema (benchmarks pass a large n, the
        check costs more than the sender); ``keep``: keep each delivered message (else only count them)."""
        self.api_key = api_key
        self.delay = delay
        self.validate_every = validate_every
        self.keep = keep
        self.delivered = 0
        self.answers: deque[Answer] = deque()
        self.requests: list[dict[str, Any]] = []
        self.messages: list[Delivered] = []
        self.refused: list[tuple[int, list[str]]] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._counter = 0
        self._seen = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL to put in DIGEST_SENDGRID_HOST."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *answers: Answer) -> None:
        """Answer the next requests with ``answers`` in order, then 202 again."""
        with self._lock:
            self.answers.extend(answers)

    def __enter__(self) -> SendGridStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def _take(self, payload: dict[str, Any]) -> tuple[Answer, str]:
        with self._lock:
            answer = self.answers.popleft() if self.answers else Answer()
            self._counter += 1
            message_id = f"standin-{self._counter}"
            if 200 <= answer.status < 300:
                self.delivered += sum(len(p["to"]) for p in payload["personalizations"])
                if self.keep:
                    self.requests.append(payload)
                    self.messages.extend(expand(payload))
        return answer, message_id

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read assertions, not logs
                pass

            def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The client may have given up waiting (a stall): exactly the case being tested.
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v3/mail/send":
                    self._reply(404, {"errors": [{"message": f"no route {self.path}"}]})
                    return
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._reply(401, {"errors": [{"message": "The provided authorization grant is invalid"}]})
                    return
                try:
                    payload = json.loads(raw)
                except ValueError:
                    self._reply(400, {"errors": [{"message": "Bad Request", "field": None}]})
                    return
                with server._lock:
                    server._seen += 1
                    check = server.validate_every > 0 and server._seen % server.validate_every == 0
                problems = mail_send_problems(payload, len(raw)) if check else []
                if problems:
                    server.refused.append((400, problems))
                    self._reply(400, {"errors": [{"message": p, "field": None} for p in problems]})
                    return
                if server.delay:
                    time.sleep(server.delay)
                answer, message_id = server._take(payload)
                if answer.stall:
                    server._released.wait(answer.stall)
                headers = {"X-Message-Id": message_id, **answer.headers}
                self._reply(answer.status, answer.body, headers)

        return Handler
