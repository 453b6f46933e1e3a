"""Async SDK for the ClickSend REST API v3 and Voximplant GetCallHistory."""

__version__ = "0.1.0"
