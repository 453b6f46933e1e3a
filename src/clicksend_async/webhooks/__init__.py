"""Parse the requests ClickSend pushes to your URL: inbound SMS and delivery receipts.

ClickSend calls a URL you configure (a "URL" action on an inbound-SMS or delivery-report rule)
for every reply and every SMS, voice or fax delivery receipt. Depending on the rule's
``webhook_type`` the fields arrive as a JSON object, as an ``application/x-www-form-urlencoded``
POST body, or in the query string of a GET. This module turns any of those into the typed models
from :mod:`clicksend_async.models.clicksend`, framework-agnostic: pass the raw body and the
request's ``Content-Type``.

Usage in an asyncio web service (shown with Starlette; aiohttp, FastAPI, … work the same)::

    from starlette.responses import Response

    from clicksend_async.models.clicksend import InboundSmsWebhook
    from clicksend_async.webhooks import WebhookError, parse_webhook

    async def clicksend_hook(request):
        body = await request.body()  # raw bytes
        try:
            # for a `webhook_type=get` rule there is no body: pass str(request.url) instead
            event = parse_webhook(body, content_type=request.headers.get("content-type"))
        except WebhookError as exc:
            return Response(str(exc), status_code=400)
        if isinstance(event, InboundSmsWebhook):
            await handle_reply(event.from_, event.body, event.original_message_id)
        else:  # Sms-, Voice- or FaxDeliveryReceiptWebhook
            await record_receipt(event.message_id, event.status, event.timestamp)
        return Response()  # ClickSend retries anything but 200 every 10 minutes, 10 times

Anyone can post to a webhook URL, so parsing is bounded in time and memory: body size, JSON
nesting, field count and number size have limits (``MAX_WEBHOOK_*`` below, each overridable per
call, see :func:`parse_inbound_sms`), and whatever breaks them or is malformed raises
:class:`WebhookError`, never another exception, with received values quoted shortened and
control characters escaped.

Each model keeps every field it was sent, documented or not (``event.model_extra``, e.g. the
``_keyword`` of pulled inbound SMS); timestamps become aware UTC datetimes and ids ints.

:func:`webhook_body` does the reverse (used to push test payloads, e.g. by a sandbox):
``parse_webhook(*webhook_body(model))`` gives back an equal model.
"""

from __future__ import annotations

from clicksend_async.webhooks._decode import (
    MAX_WEBHOOK_BYTES,
    MAX_WEBHOOK_FIELDS,
    MAX_WEBHOOK_INT_DIGITS,
    MAX_WEBHOOK_JSON_DEPTH,
    DeliveryReceipt,
    WebhookError,
    WebhookEvent,
    WebhookInput,
)
from clicksend_async.webhooks._events import (
    parse_delivery_receipt,
    parse_inbound_sms,
    parse_webhook,
    webhook_body,
)

__all__ = [
    "MAX_WEBHOOK_BYTES",
    "MAX_WEBHOOK_FIELDS",
    "MAX_WEBHOOK_INT_DIGITS",
    "MAX_WEBHOOK_JSON_DEPTH",
    "DeliveryReceipt",
    "WebhookError",
    "WebhookEvent",
    "WebhookInput",
    "parse_delivery_receipt",
    "parse_inbound_sms",
    "parse_webhook",
    "webhook_body",
]
