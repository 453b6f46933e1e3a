"""GENERATED pydantic models: ``clicksend`` (ClickSend v3) and ``voximplant`` (GetCallHistory).

Import what you need from the submodules, e.g.
``from clicksend_async.models.clicksend import SmsHistoryItem``.
"""
