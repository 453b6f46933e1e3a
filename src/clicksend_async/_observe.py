"""What a caller can observe of the request loop: the ``clicksend_async`` logger (switched on by
``CLICKSEND_LOG``) and the per-attempt event hooks.

Core layer. Nothing here ever sees a credential: events carry the path (never the query or the
URL), and their headers are filtered of ``Authorization``, ``Proxy-Authorization`` and cookies.

Hooks are observers: an exception raised by one is logged (with its traceback) and the call goes
on. Propagating it would turn "the send was processed" into an arbitrary error after the fact,
and a caller that retries on errors would then send twice.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, TypeVar

from clicksend_async import errors

logger = logging.getLogger("clicksend_async")

LOG_ENV = "CLICKSEND_LOG"
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
# Header names an event never shows: credentials and session state.
HIDDEN_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

_env_handler: logging.Handler | None = None


def configure_logging_from_env() -> None:
    """``CLICKSEND_LOG=info|debug`` sends the SDK's log to stderr, as ``OPENAI_LOG`` does.

    Read when a client is made; the handler is added once per process. Unset or empty leaves
    logging to the application. Any other value is a typed error naming the variable.
    """
    global _env_handler
    value = os.environ.get(LOG_ENV, "").strip().lower()
    if not value:
        return
    level = LOG_LEVELS.get(value)
    if level is None:
        raise errors.ClickSendError(
            f"{LOG_ENV} must be one of {', '.join(sorted(LOG_LEVELS))} (or unset), "
            f"got {errors.escape_control(value[:40])!r}"
        )
    if _env_handler is None:
        _env_handler = logging.StreamHandler(sys.stderr)
        _env_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        logger.addHandler(_env_handler)
    logger.setLevel(level)


def visible_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HIDDEN_HEADERS}


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One attempt about to be sent (after its wait in the limiter)."""

    method: str
    path: str  # as sent, escaped; never the query string
    attempt: int  # 1 for the first attempt of a call, 2 for its first retry, ...
    headers: Mapping[str, str] = field(repr=False)  # without Authorization


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """The end of one attempt: an answer (``status``) or a transport failure (``error``)."""

    method: str
    path: str
    attempt: int
    status: int | None  # None when no answer arrived
    elapsed: float  # seconds from handing the request to the sender to its answer or failure
    headers: Mapping[str, str] = field(repr=False)  # the answer's, without Set-Cookie
    error: str | None = None  # e.g. "ConnectError: ..." (redacted), when status is None


EventT = TypeVar("EventT", RequestEvent, ResponseEvent)
Hook = Callable[[EventT], "Awaitable[object] | object"]
RequestHook = Callable[[RequestEvent], Any]
ResponseHook = Callable[[ResponseEvent], Any]


class EventHooks(TypedDict, total=False):
    """``event_hooks=`` of both clients: sync or async callables, called for every attempt."""

    request: Sequence[RequestHook]
    response: Sequence[ResponseHook]


HOOK_KINDS = ("request", "response")


@dataclass(frozen=True, slots=True)
class Hooks:
    request: tuple[RequestHook, ...] = ()
    response: tuple[ResponseHook, ...] = ()

    @classmethod
    def from_option(cls, value: EventHooks | Mapping[str, Any] | None) -> Hooks:
        if not value:
            return cls()
        unknown = [str(k) for k in value if k not in HOOK_KINDS]
        if unknown:
            raise errors.ClickSendError(
                f"event_hooks: unknown kind {', '.join(unknown)!s}; use 'request' and 'response'"
            )
        found: dict[str, tuple[Any, ...]] = {}
        for kind in HOOK_KINDS:
            hooks: Any = value.get(kind) or ()
            if callable(hooks) or isinstance(hooks, (str, bytes)) or not hasattr(hooks, "__iter__"):
                raise errors.ClickSendError(f"event_hooks[{kind!r}] must be a list of callables")
            for hook in hooks:
                if not callable(hook):
                    raise errors.ClickSendError(
                        f"event_hooks[{kind!r}]: {type(hook).__name__} is not callable"
                    )
            found[kind] = tuple(hooks)
        return cls(request=found["request"], response=found["response"])


async def emit(kind: Literal["request", "response"], hooks: Sequence[Any], event: Any) -> None:
    """Call each hook with the event; a failing hook is logged, never raised (see above)."""
    for hook in hooks:
        try:
            result = hook(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception(
                "%s event hook %s failed (ignored; the call goes on)",
                kind,
                getattr(hook, "__qualname__", type(hook).__name__),
            )
