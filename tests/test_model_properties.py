"""Property tests: random data that conforms to our own spec never makes a response model raise,
and the parsed model always dumps back to JSON; the same data sent as bytes parses through the
client (``parse_envelope``, which validates a fitting answer straight from its bytes) to the same
model; data that also fits the lenient scalar types' parsers parses strictly (the spec and the
generated models agree).

Each model gets a few derandomised examples here (the whole file stays within seconds);
`bench/fuzz_models.py` runs the same properties with many more.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from clicksend_async import errors
from clicksend_async._base import strict_validation, unparsed_fields
from clicksend_async._operation import Operation
from clicksend_async._response import ensure_envelope, parse_envelope
from clicksend_async._transport import RawResponse
from clicksend_async.models import clicksend as m
from tests.schema_strategies import SchemaStrategies
from tests.spec_index import load_spec, operations, schema_name

SPEC = load_spec("clicksend")
RESPONSE_MODELS = sorted(
    {
        schema_name(op.raw["responses"]["200"]["content"]["application/json"]["schema"])
        for op in operations()
        if op.api == "clicksend"
    }
)
ANY_CONFORMING = SchemaStrategies(SPEC)
FITTING = SchemaStrategies(SPEC, fitting=True)
COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,  # no .hypothesis/ directory in the checkout
    "derandomize": True,  # the same examples on every run: a failure is reproducible
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
ANY_RUNS = settings(max_examples=10, **COMMON)
FITTING_RUNS = settings(max_examples=5, **COMMON)


def test_every_operation_has_a_response_model() -> None:
    assert len(RESPONSE_MODELS) == 205
    assert all(hasattr(m, name) for name in RESPONSE_MODELS)


@pytest.mark.parametrize("name", RESPONSE_MODELS)
def test_random_responses_never_raise_and_fitting_ones_parse_strictly(name: str) -> None:
    model = getattr(m, name)

    @ANY_RUNS
    @given(ANY_CONFORMING.named(name))
    def never_raises(body: Any) -> None:
        parsed = model.model_validate(ensure_envelope(body))
        json.dumps(parsed.model_dump(mode="json", exclude_unset=True))  # raw values included
        parsed.model_dump()
        # The answer's bytes, as the client parses them (straight from the bytes when they fit),
        # give what validating its decoded JSON gives.
        answer = RawResponse(200, {}, json.dumps(body).encode(), method="GET", url="http://x/")
        operation = Operation(name, "GET", "/x", True, None, model)
        code = ensure_envelope(body).get("http_code")
        if isinstance(code, int) and code >= 400:
            with pytest.raises(errors.APIError):
                parse_envelope(answer, operation, "/x", ())
            return
        from_bytes = parse_envelope(answer, operation, "/x", ())
        assert from_bytes == parsed and from_bytes.model_dump() == parsed.model_dump()
        assert unparsed_fields(from_bytes) == unparsed_fields(parsed)

    @FITTING_RUNS
    @given(FITTING.named(name))
    def parses_strictly(body: dict[str, Any]) -> None:
        body.setdefault("response_code", "SUCCESS")  # an envelope, not a bare body to wrap
        with strict_validation():
            model.model_validate(body)

    never_raises()
    parses_strictly()
