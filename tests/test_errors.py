"""The typed error tree (errors.py): classes by status, what each message names, and the
builtins a caller may already catch."""

from __future__ import annotations

import builtins

import pytest

from clicksend_async import errors


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.APIError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (503, errors.ServerError),
        (599, errors.ServerError),
    ],
)
def test_status_maps_to_its_class(status: int, expected: type[errors.APIError]) -> None:
    error = errors.api_error(
        status_code=status, method="GET", path="/x", response_code="C", response_msg="m"
    )
    assert type(error) is expected and isinstance(error, errors.ClickSendError)
    assert error.status_code == status


def test_rate_limit_error_keeps_retry_after() -> None:
    error = errors.api_error(
        status_code=429, retry_after=7.5, method="GET", path="/x", response_code=None,
        response_msg=None,
    )  # fmt: skip
    assert isinstance(error, errors.RateLimitError) and error.retry_after == 7.5


def test_message_names_method_path_status_and_api_code() -> None:
    error = errors.api_error(
        status_code=400,
        method="POST",
        path="/sms/send",
        response_code="MISSING_REQUIRED_FIELDS",
        response_msg="to is required",
    )
    assert str(error) == "POST /sms/send: HTTP 400 MISSING_REQUIRED_FIELDS: to is required"


def test_unknown_outcome_says_so_and_lists_the_references() -> None:
    error = errors.ConnectionError(
        "dropped", method="POST", path="/sms/send", outcome_unknown=True, references=("r1", "r2")
    )
    assert error.outcome_unknown and error.references == ("r1", "r2")
    assert "outcome unknown" in str(error) and "r1, r2" in str(error)


def test_transport_errors_are_also_the_builtins() -> None:
    """Code that catches builtins.ConnectionError / TimeoutError keeps working."""
    assert issubclass(errors.ConnectionError, builtins.ConnectionError)
    assert issubclass(errors.TimeoutError, builtins.TimeoutError)
    assert issubclass(errors.RequestValidationError, ValueError)
    assert issubclass(errors.EventLoopError, RuntimeError)


def test_request_validation_error_names_every_field() -> None:
    error = errors.RequestValidationError(
        "sms_send",
        [{"loc": ("messages", 0, "to"), "msg": "Field required"}, {"loc": (), "msg": "bad"}],
    )
    assert str(error) == (
        "invalid arguments for sms_send: messages.0.to: Field required; <body>: bad"
    )


def test_decode_error_shows_a_bounded_prefix_of_the_body() -> None:
    error = errors.ResponseDecodeError(
        method="GET", path="/x", status_code=502, content=b"<html>" + b"x" * 10_000, reason="html"
    )
    assert "HTTP 502" in str(error) and len(str(error)) < 300


def test_voximplant_errors_carry_code_and_message() -> None:
    error = errors.VoximplantAuthenticationError(method="GetCallHistory", code=454, msg="expired")
    assert isinstance(error, errors.VoximplantError) and error.code == 454
    assert str(error) == "Voximplant GetCallHistory: error 454: expired"
