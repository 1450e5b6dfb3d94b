"""The outcome table of `digest.delivery.policy`, row by row, without a database or a provider."""

from __future__ import annotations

import types

import pytest

import digest.delivery
from digest.delivery import Action, SendOptions, on_error
from digest.errors import MailError, OutcomeUnknown, ProviderError, ProviderUnreachable

OPTIONS = SendOptions(retries=2)

# (row of the docstring's table, error, retries already made, readers in the batch, action)
TABLE = [
    ("429 with tries left", ProviderError("sendgrid", 429, "slow down"), 0, 10, Action.RETRY),
    ("5xx with tries left", ProviderError("sendgrid", 503, "busy"), 1, 10, Action.RETRY),
    ("connection refused with tries left", ProviderUnreachable("refused"), 0, 10, Action.RETRY),
    ("429 still failing", ProviderError("sendgrid", 429, "slow down"), 2, 10, Action.STOP),
    ("5xx still failing", ProviderError("sendgrid", 500, "down"), 2, 10, Action.STOP),
    ("connection refused still failing", ProviderUnreachable("refused"), 2, 10, Action.STOP),
    ("401 stops at once", ProviderError("sendgrid", 401, "bad key"), 0, 10, Action.STOP),
    ("403 stops at once", ProviderError("sendgrid", 403, "forbidden"), 0, 10, Action.STOP),
    ("a broken setting stops at once", MailError("smtp: no host"), 0, 10, Action.STOP),
    ("400 fails the batch", ProviderError("sendgrid", 400, "bad request"), 0, 1, Action.FAIL),
    ("400 fails a larger batch too", ProviderError("sendgrid", 400, "bad request"), 0, 10, Action.FAIL),
    ("413 halves a batch", ProviderError("sendgrid", 413, "too large"), 0, 2, Action.HALVE),
    ("413 for a single reader fails", ProviderError("sendgrid", 413, "too large"), 0, 1, Action.FAIL),
    ("no answer after the request left", OutcomeUnknown("timed out reading"), 0, 10, Action.UNCERTAIN),
    ("no answer, even with no tries left", OutcomeUnknown("timed out reading"), 2, 10, Action.UNCERTAIN),
]


@pytest.mark.parametrize(("row", "error", "attempt", "size", "action"), TABLE, ids=[row[0] for row in TABLE])
def test_each_provider_answer_has_its_action(
    row: str, error: MailError, attempt: int, size: int, action: Action
) -> None:
    assert on_error(error, attempt=attempt, batch_size=size, options=OPTIONS) is action


def test_no_retries_means_the_first_failure_stops() -> None:
    busy = ProviderError("sendgrid", 503, "busy")
    assert on_error(busy, attempt=0, batch_size=5, options=SendOptions(retries=0)) is Action.STOP


def test_the_package_face_is_what_all_names() -> None:
    exported = set(digest.delivery.__all__)
    public = {
        name
        for name, value in vars(digest.delivery).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert exported == public
    assert all(
        getattr(digest.delivery, name).__module__.startswith("digest.delivery.") for name in exported - {"MAX_ATTEMPTS"}
    )
