"""The web app against a hostile browser or network: Host and Origin checks, the editor's login limits, security
headers and flash codes, sign-up limits (thread-safe, bounded, per IPv6 /64, shared between processes), proxy
headers from trusted proxies only, confirmation caps per mailbox and domain."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import select

from digest.db import open_session
from digest.settings import Settings
from digest.web.app import create_app
from digest.web.limits import Limit, MemoryCounters, RateLimits, RedisCounters, client_key
from subscribers.models import Subscriber, SubscriptionStatus
from subscribers.store import remove_subscriber, suppress
from tests.conftest import SAMPLE_DAY
from tests.editions import build_sample
from tests.subscribers_helpers import make_reader, read_messages, subscription

PASSWORD = "a-long-editor-password"
PAGE = f"/editor/quotidien/{SAMPLE_DAY}"
REDIS_URL = os.environ.get("DIGEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"editor:{password}".encode()).decode()}


@pytest.fixture
def editor_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(editor_password=PASSWORD)


def test_every_route_checks_the_host(editor_settings: Settings, engine: Engine) -> None:
    app = create_app(editor_settings, engine=engine)
    rebinding = TestClient(app, base_url="http://attacker.example")
    for path in ("/subscribe", PAGE, "/editions/quotidien", "/u/1.1.1.x"):
        assert rebinding.get(path, headers=basic(PASSWORD)).status_code == 421, path
    assert rebinding.post("/webhooks/sendgrid", json=[]).status_code == 421
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/subscribe").status_code == 421
    assert TestClient(app, base_url=editor_settings.base_url).get("/subscribe").status_code == 200


def test_preview_also_answers_this_machine_only(make_settings: Callable[..., Settings], engine: Engine) -> None:
    app = create_app(make_settings(), engine=engine)
    app.state.editor_open = True  # as `digest preview` runs it
    build_sample(engine, make_settings())
    for base in ("http://127.0.0.1:8001", "http://localhost:8001", "https://news.example.com"):
        assert TestClient(app, base_url=base).get(PAGE).status_code == 200, base
    assert TestClient(app, base_url="http://rebound.attacker.example:8001").get(PAGE).status_code == 421


def test_cross_site_posts_are_refused(editor_settings: Settings, engine: Engine) -> None:
    build_sample(engine, editor_settings)
    http = TestClient(create_app(editor_settings, engine=engine), base_url=editor_settings.base_url)
    page = http.get(PAGE, headers=basic(PASSWORD))
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    for headers in ({"Origin": "https://attacker.example"}, {"Sec-Fetch-Site": "cross-site"}):
        approve = http.post(PAGE + "/approve", data={"csrf": csrf}, headers={**basic(PASSWORD), **headers})
        assert approve.status_code == 403
        signup = http.post("/subscribe", data={"email": "victim@example.com"}, headers=headers)
        assert signup.status_code == 403
    same = http.post(
        PAGE + "/approve",
        data={"csrf": csrf, "ignore_lint": "true"},
        headers={**basic(PASSWORD), "Origin": "https://news.example.com", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 200 and "approved" in same.text


def test_failed_editor_logins_are_limited_for_everyone(editor_settings: Settings, engine: Engine) -> None:
    app = create_app(editor_settings, engine=engine)
    answers = []
    for n in range(25):  # a guesser spread over many addresses
        guesser = TestClient(app, base_url=editor_settings.base_url, client=(f"198.51.100.{n}", 4000))
        answers.append(guesser.get(PAGE, headers=basic(f"guess-{n}")).status_code)
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}
    editor = TestClient(app, base_url=editor_settings.base_url, client=("192.0.2.1", 4000))
    locked = editor.get(PAGE, headers=basic(PASSWORD))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0, "the right password waits too"


def test_failed_logins_of_one_client_are_limited_sooner(editor_settings: Settings, engine: Engine) -> None:
    app = create_app(editor_settings, engine=engine)
    guesser = TestClient(app, base_url=editor_settings.base_url, client=("203.0.113.9", 4000))
    answers = [guesser.get(PAGE, headers=basic(f"guess-{n}")).status_code for n in range(12)]
    assert answers[:10] == [401] * 10 and answers[10:] == [429, 429]
    other = TestClient(app, base_url=editor_settings.base_url, client=("192.0.2.1", 4000))
    assert other.get(PAGE, headers=basic(PASSWORD)).status_code == 200


def test_editor_and_archive_pages_carry_the_readers_security_headers(editor_settings: Settings, engine: Engine) -> None:
    build_sample(engine, editor_settings)
    http = TestClient(create_app(editor_settings, engine=engine), base_url=editor_settings.base_url)
    for path in (PAGE, PAGE + "/variant?key=fr", "/editions/quotidien", "/editions/quotidien/feed.atom"):
        answer = http.get(path, headers=basic(PASSWORD))
        assert answer.status_code == 200, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        if not path.endswith(".atom"):
            policy = answer.headers["content-security-policy"]
            assert "base-uri 'none'" in policy and "form-action" in policy, path
            assert ("frame-ancestors 'self'" if "variant" in path else "frame-ancestors 'none'") in policy, path


def test_flash_messages_are_codes_not_text(editor_settings: Settings, engine: Engine) -> None:
    build_sample(engine, editor_settings)
    http = TestClient(create_app(editor_settings, engine=engine), base_url=editor_settings.base_url)
    forged = http.get(
        PAGE,
        params={"error": "Session expired: log in again at https://attacker.example", "message": "Log in again"},
        headers=basic(PASSWORD),
    )
    assert "attacker.example" not in forged.text and "Log in again" not in forged.text
    nonsense = http.get(PAGE, params={"done": "Call +212 600 000 000"}, headers=basic(PASSWORD))
    assert "+212" not in nonsense.text


# --- Sign-up limits -----------------------------------------------------------------------------------


def test_the_in_memory_limits_are_thread_safe_and_bounded() -> None:
    counters = MemoryCounters(max_keys=5_000)
    limits = RateLimits(counters, clock=lambda: 1_000.0)
    limit = Limit("subscribe", 5, 600)
    errors: list[BaseException] = []

    def flood(offset: int) -> None:
        try:
            for n in range(10_000):
                limits.hit(limit, f"10.{offset}.{n // 256}.{n % 256}")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=flood, args=(offset,)) for offset in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(counters) <= 5_000
    assert [limits.hit(limit, "192.0.2.7") for _ in range(6)][5] is not None, "still counting after the flood"


def test_an_ipv6_64_is_one_client(make_settings: Callable[..., Settings], engine: Engine) -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") != client_key("2001:db8:1:3::1")
    app = create_app(make_settings(), engine=engine)
    answers = []
    for n in range(7):
        http = TestClient(app, base_url="https://news.example.com", client=(f"2001:db8:1:2::{n + 1:x}", 4000))
        answers.append(http.post("/subscribe", data={"email": f"reader{n}@example.com"}).status_code)
    assert answers == [200] * 5 + [429] * 2


def _shared_backends(database_url: str) -> list[dict[str, str]]:
    backends = []
    try:
        RedisCounters(REDIS_URL)._redis.flushdb()
        backends.append({"redis_url": REDIS_URL})
    except Exception:
        pass
    if database_url.startswith("postgresql"):
        backends.append({})
    return backends


def test_sign_up_limits_are_shared_between_processes(make_settings: Callable[..., Settings], engine: Engine) -> None:
    backends = _shared_backends(make_settings().database_url)
    if not backends:
        pytest.skip("neither Redis nor PostgreSQL to share counts: SQLite alone counts per process")
    for extra in backends:
        settings = make_settings(**extra)
        one, two = (
            TestClient(create_app(settings, engine=engine), base_url=settings.base_url, client=("192.0.2.44", 1))
            for _ in range(2)
        )
        answers = [
            (one if n % 2 else two).post("/subscribe", data={"email": f"r{n}-{len(extra)}@example.com"}).status_code
            for n in range(7)
        ]
        assert answers == [200] * 5 + [429] * 2, extra


def test_confirmations_are_capped_per_mailbox_and_the_name_stays_out_of_headers(
    make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings()
    app = create_app(settings, engine=engine)
    for n in range(5):
        http = TestClient(app, base_url=settings.base_url, client=(f"192.0.2.{n + 1}", 4000))
        answer = http.post(
            "/subscribe",
            data={"email": f"Victim+{n}@Example.com", "name": "Your bank: call +212 600 000 000"},
        )
        assert answer.status_code == 200
    messages = read_messages(settings.outbox_dir)
    assert len(messages) == 3, "victim+N@ is one mailbox: three confirmations an hour"
    for message in messages:
        assert "bank" not in str(message["To"]) and "212" not in str(message["To"])


# --- `digest serve` itself ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_digest_serve_ignores_forwarded_for_from_untrusted_peers_and_logs_no_tokens(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        "DIGEST_OUTBOX_DIR": str(tmp_path / "outbox"),
        "DIGEST_SECRET_KEY": "",
    }
    digest = [sys.executable, "-m", "digest"]
    subprocess.run([*digest, "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    server = subprocess.Popen(
        [*digest, "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/subscribe", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        answers = [
            httpx.post(
                f"{base}/subscribe",
                data={"email": f"reader{n}@example.com"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            ).status_code
            for n in range(7)
        ]
        token = "12.1.1764230400.c2lnbmF0dXJlLW5vdC1yZWFsbHktYS1zaWduYXR1cmUtYXQtYWxs"
        assert httpx.get(f"{base}/u/{token}").status_code == 404
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert answers == [200] * 5 + [429] * 2, "X-Forwarded-For from an untrusted peer must not reset the limit"
    assert "GET /u/" in output and token not in output and "c2lnbmF0" not in output


# --- Sign-up timing -----------------------------------------------------------------------------------


def test_a_sign_up_answers_after_the_same_work_whatever_the_address(
    make_settings: Callable[..., Settings], engine: Engine
) -> None:
    """The database work done before the answer leaves is the same for a new, a known, an unsubscribed and a
    suppressed address (the sign-up itself happens after the answer), so timing cannot tell them apart."""
    settings = make_settings()
    make_reader(engine, "known@example.com")
    make_reader(engine, "left@example.com")
    with open_session(engine) as session:
        remove_subscriber(session=session, email="left@example.com")
        suppress(session=session, email="bounced@example.com", reason="bounced")
        session.commit()
    statements: list[str] = []
    before_answer: dict[str, int] = {}

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    app = create_app(settings, engine=engine)

    async def probe(scope: Any, receive: Any, send: Any) -> None:
        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                before_answer[current] = len(statements)
            await send(message)

        await app(scope, receive, watch)

    event.listen(engine, "before_cursor_execute", count)
    try:
        answers = {}
        for current in ("new@example.com", "known@example.com", "left@example.com", "bounced@example.com"):
            statements.clear()
            http = TestClient(probe, base_url=settings.base_url, client=(f"192.0.2.{len(answers) + 1}", 1))
            answers[current] = http.post("/subscribe", data={"email": current, "language": "en"})
            assert len(statements) > before_answer[current], "the sign-up still happens, after the answer"
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len({answer.text for answer in answers.values()}) == 1
    assert len(set(before_answer.values())) == 1, before_answer
    with open_session(engine) as session:
        new = session.exec(select(Subscriber).where(Subscriber.email == "new@example.com")).one()
    assert new.id is not None
    assert subscription(engine, new.id, 1).status == SubscriptionStatus.PENDING
