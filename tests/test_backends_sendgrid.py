"""The SendGrid backend: every payload shape valid against the official schema, errors keep the answer."""

from __future__ import annotations

import dataclasses
import json
import socket
from typing import Any

import pytest

from digest.errors import OutcomeUnknown, ProviderError, ProviderUnreachable
from digest.mail.base import Recipient
from digest.mail.sendgrid import SendGridBackend
from tests.seed import make_batch
from tests.servers.sendgrid import Answer, SendGridStandIn, mail_send_problems


def _backend(server: SendGridStandIn, **kwargs: Any) -> SendGridBackend:
    return SendGridBackend(api_key=server.api_key, host=server.url, timeout=kwargs.pop("timeout", 5), **kwargs)


def _payload_shapes() -> list[tuple[str, Any]]:
    """Every shape of request the backend builds: content forms, names, ids, sandbox, tracking, sizes."""
    offline = SendGridBackend(api_key="SG.x", host="http://127.0.0.1:9")
    tracked = SendGridBackend(api_key="SG.x", host="http://127.0.0.1:9", tracking=frozenset({"opens", "clicks"}))
    anonymous = dataclasses.replace(
        make_batch(2),
        recipients=[
            Recipient(email=f"test{i}@example.com", fields=make_batch(1).recipients[0].fields) for i in range(2)
        ],
    )
    return [
        ("html and text", offline.build_payload(make_batch(3))),
        ("text only", offline.build_payload(make_batch(3, html=False))),
        ("tracking on", tracked.build_payload(make_batch(2))),
        ("sandbox (dry run)", offline.build_payload(make_batch(2, sandbox=True))),
        ("test send: no names, no delivery ids", offline.build_payload(anonymous)),
        ("no categories or custom args", offline.build_payload(make_batch(1, categories=(), custom_args={}))),
        ("1000 readers", offline.build_payload(make_batch(1000))),
    ]


@pytest.mark.parametrize(("shape", "payload"), _payload_shapes(), ids=[s for s, _ in _payload_shapes()])
def test_every_payload_shape_is_valid_and_within_limits(shape: str, payload: Any) -> None:
    raw = json.dumps(payload).encode()
    assert mail_send_problems(payload, len(raw)) == []
    for personalization in payload["personalizations"]:
        args = personalization.get("custom_args", {})
        assert all(isinstance(v, str) for v in args.values())
    assert all(isinstance(v, str) for v in payload.get("custom_args", {}).values())


def test_the_validator_catches_what_sendgrid_refuses() -> None:
    payload = SendGridBackend(api_key="SG.x", host="http://127.0.0.1:9").build_payload(make_batch(2))
    twice = json.loads(json.dumps(payload))
    twice["personalizations"][1]["to"][0]["email"] = "READER0@example.com"
    assert any("appears twice" in p for p in mail_send_problems(twice))
    too_many = {**payload, "personalizations": payload["personalizations"] * 501}
    assert mail_send_problems(too_many)
    typed = json.loads(json.dumps(payload))
    typed["personalizations"][0]["custom_args"]["delivery_id"] = 100
    assert any("strings" in p for p in mail_send_problems(typed))
    assert mail_send_problems({"personalizations": []})


def test_payload_carries_ids_categories_and_tracking(sendgrid_server: SendGridStandIn) -> None:
    backend = _backend(sendgrid_server, tracking=frozenset({"opens"}))
    results = backend.send_batch(make_batch(2))
    assert {r.provider_id for r in results} == {"standin-1"}
    request = sendgrid_server.requests[0]
    assert request["custom_args"] == {"edition_id": "7"}
    assert [p["custom_args"] for p in request["personalizations"]] == [{"delivery_id": "100"}, {"delivery_id": "101"}]
    assert request["categories"] == ["quotidien", "2025-11-27"]
    assert request["tracking_settings"]["open_tracking"] == {"enable": True}
    assert request["tracking_settings"]["click_tracking"]["enable"] is False
    assert len(request["content"]) == 2, "the content is sent once, not per reader"
    assert "mail_settings" not in request


def test_sandbox_batches_ask_for_sandbox_mode(sendgrid_server: SendGridStandIn) -> None:
    _backend(sendgrid_server).send_batch(make_batch(1, sandbox=True))
    assert sendgrid_server.requests[0]["mail_settings"] == {"sandbox_mode": {"enable": True}}


@pytest.mark.parametrize("status", [400, 401, 413, 500])
def test_errors_keep_sendgrid_status_and_body(sendgrid_server: SendGridStandIn, status: int) -> None:
    body = {"errors": [{"message": f"reason for {status}", "field": "personalizations"}]}
    sendgrid_server.script(Answer(status, body))
    with pytest.raises(ProviderError) as caught:
        _backend(sendgrid_server).send_batch(make_batch(1))
    assert caught.value.status == status
    assert json.loads(caught.value.body) == body
    assert f"reason for {status}" in str(caught.value)
    assert caught.value.retryable is (status >= 500)


def test_bad_key_is_refused_with_sendgrid_message(sendgrid_server: SendGridStandIn) -> None:
    backend = SendGridBackend(api_key="SG.wrong", host=sendgrid_server.url, timeout=5)
    with pytest.raises(ProviderError, match="authorization grant is invalid") as caught:
        backend.send_batch(make_batch(1))
    assert caught.value.status == 401


def test_rate_limit_answer_says_when_to_come_back(sendgrid_server: SendGridStandIn) -> None:
    sendgrid_server.script(Answer(429, {"errors": []}, {"X-RateLimit-Reset": "1000042"}))
    backend = SendGridBackend(
        api_key=sendgrid_server.api_key, host=sendgrid_server.url, timeout=5, wall_clock=lambda: 1000000.0
    )
    with pytest.raises(ProviderError) as caught:
        backend.send_batch(make_batch(1))
    assert caught.value.status == 429 and caught.value.retryable
    assert caught.value.retry_after == pytest.approx(42.0)


def test_retry_after_header_is_honoured_too(sendgrid_server: SendGridStandIn) -> None:
    sendgrid_server.script(Answer(503, {"errors": []}, {"Retry-After": "7"}))
    with pytest.raises(ProviderError) as caught:
        _backend(sendgrid_server).send_batch(make_batch(1))
    assert caught.value.retry_after == 7.0


def test_a_stall_after_the_request_left_is_an_unknown_outcome(sendgrid_server: SendGridStandIn) -> None:
    sendgrid_server.script(Answer(stall=5))
    with pytest.raises(OutcomeUnknown, match="may have arrived"):
        _backend(sendgrid_server, timeout=0.3).send_batch(make_batch(2))
    assert len(sendgrid_server.messages) == 2, "the provider did take the request"


def test_a_refused_connection_never_left() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = SendGridBackend(api_key="SG.x", host=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(ProviderUnreachable, match="cannot connect"):
        backend.send_batch(make_batch(1))


def test_a_timeout_is_always_set() -> None:
    backend = SendGridBackend(api_key="SG.x", host="http://127.0.0.1:9", timeout=12.5)
    assert backend.client.client.timeout == 12.5
