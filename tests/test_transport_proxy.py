"""Proxies and CA files from the environment and from ``proxy=`` (issue 14), through a real
loopback proxy: plain HTTP is forwarded (absolute-form request line), HTTPS goes through a
CONNECT tunnel to a TLS target whose self-signed certificate is trusted via SSL_CERT_FILE.

Every test counts both ends: what reached the target and what passed the proxy, so a request
that bypassed the proxy shows up as a difference. Runs on the default sender under asyncio
(aiohttp); tests/test_backends.py runs the trio sender (httpx) through the same proxy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clicksend_async import AsyncClickSend, errors
from clicksend_async._sender import DefaultSender
from clicksend_async._transport import ProxySettings
from clicksend_async.voximplant import AsyncVoximplant
from tests.proxyserver import Proxy, Target, basic, proxy_server, self_signed, target_server

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
SECRET = "pr0xy-s3cret"
WINDOW_END = "2026-01-02 00:00:00"
SEND = {"messages": [{"to": "+61411111111", "body": "hi", "custom_string": "ref-1"}]}


@pytest.fixture(autouse=True)
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No proxy variable of the machine leaks into these tests (nor theirs into others)."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    yield


async def three_calls(cs: AsyncClickSend) -> None:
    await cs.account.get()
    await cs.sms.send(**SEND)
    await cs.request("GET", "/account")


def assert_all_through(proxy: Proxy, target: Target, *, tunnelled: bool) -> None:
    assert len(target.requests) == 3
    if tunnelled:  # every connection the target accepted came through a tunnel
        assert proxy.tunnels and len(proxy.tunnels) == target.connections
        assert proxy.forwarded == []
    else:
        assert len(proxy.forwarded) == 3 == len(target.requests)
        host = target.url.removesuffix("/v3")
        assert all(line.split(" ")[1].startswith(host + "/v3/") for line in proxy.forwarded)


async def test_http_proxy_from_the_environment_sees_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with proxy_server() as proxy, target_server() as target:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with AsyncClickSend("u", "k", base_url=target.url) as cs:
            await three_calls(cs)
        assert_all_through(proxy, target, tunnelled=False)


async def test_https_proxy_tunnels_with_connect_and_ssl_cert_file_is_trusted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, server_tls = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    async with proxy_server() as proxy, target_server(server_tls) as target:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with AsyncClickSend("u", "k", base_url=target.url) as cs:
            await three_calls(cs)
        assert_all_through(proxy, target, tunnelled=True)
        host_port = target.url.removeprefix("https://").removesuffix("/v3")
        assert set(proxy.tunnels) == {host_port}


async def test_all_proxy_is_used_for_both_schemes(monkeypatch: pytest.MonkeyPatch) -> None:
    async with proxy_server() as proxy, target_server() as target:
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        async with AsyncClickSend("u", "k", base_url=target.url) as cs:
            await three_calls(cs)
        assert_all_through(proxy, target, tunnelled=False)


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*", ".0.0.1"])
async def test_no_proxy_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch, no_proxy: str) -> None:
    async with proxy_server() as proxy, target_server() as target:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        async with AsyncClickSend("u", "k", base_url=target.url) as cs:
            await three_calls(cs)
        assert len(target.requests) == 3
        assert proxy.seen == 0


async def test_no_proxy_for_another_host_keeps_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    async with proxy_server() as proxy, target_server() as target:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.2,127.0.0.1:1")
        async with AsyncClickSend("u", "k", base_url=target.url) as cs:
            await three_calls(cs)
        assert_all_through(proxy, target, tunnelled=False)


async def test_trust_env_false_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with proxy_server() as proxy, target_server() as target:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with AsyncClickSend("u", "k", base_url=target.url, trust_env=False) as cs:
            await three_calls(cs)
        assert proxy.seen == 0 and len(target.requests) == 3


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https-connect"])
async def test_proxy_option_with_credentials_on_both_clients(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls: bool
) -> None:
    cert, server_tls = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setenv("NO_PROXY", "*")  # an explicit proxy= wins over NO_PROXY, as in httpx
    async with (
        proxy_server(require=basic("ops", "p@ss " + SECRET)) as proxy,
        target_server(server_tls if tls else None) as target,
    ):
        # user-info is percent-encoded in the URL and sent decoded in Proxy-Authorization
        url = proxy.url.replace("://", f"://ops:p%40ss%20{SECRET}@")
        async with AsyncClickSend("u", "k", base_url=target.url, proxy=url) as cs:
            await three_calls(cs)
        assert_all_through(proxy, target, tunnelled=tls)
        vox_url = target.url.removesuffix("/v3") + "/platform_api"
        async with AsyncVoximplant(account_id=1, api_key="k", base_url=vox_url, proxy=url) as vox:
            await vox.call_history(from_date="2026-01-01 00:00:00", to_date=WINDOW_END)
        assert target.requests[-1].line.startswith("POST /platform_api/GetCallHistory?")
        assert proxy.refused == 0 and len(target.requests) == 4
        assert all(SECRET not in line for line in proxy.forwarded)
        # the credentials reach the proxy only, never the target
        assert all("proxy-authorization" not in r.headers for r in target.requests)


def leaks(text: str) -> bool:
    return SECRET in text or "p%40ss" in text


@pytest.mark.parametrize("tls", [False, True], ids=["http-407", "connect-407"])
async def test_refused_proxy_credentials_never_appear_in_errors_or_logs(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    tls: bool,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: the SDK's, aiohttp's, asyncio's
    cert, server_tls = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    events: list[Any] = []
    async with (
        proxy_server(require=basic("ops", "the-right-one")) as proxy,
        target_server(server_tls if tls else None) as target,
    ):
        url = proxy.url.replace("://", f"://ops:p%40ss{SECRET}@")
        hooks: Any = {"request": [events.append], "response": [events.append]}
        cs = AsyncClickSend("u", "k", base_url=target.url, proxy=url, event_hooks=hooks)
        async with cs:
            error_class = errors.ConnectionError if tls else errors.APIError
            with pytest.raises(error_class) as info:
                await cs.sms.send(**SEND)
        assert target.requests == []
        if tls:  # CONNECT refused: provably not sent, so even a send is retried, then raised
            assert proxy.refused == 3 and not info.value.outcome_unknown
            assert "ProxyError" in str(info.value)
        else:  # a plain 407 answer: an HTTP error like any other, not retried
            assert proxy.refused == 1 and info.value.status_code == 407  # type: ignore[attr-defined]
    shown = [str(info.value), repr(info.value), caplog.text, repr(events), repr(cs)]
    shown += [str(e) for e in events]
    assert not any(leaks(text) for text in shown), shown


async def test_an_unreachable_proxy_is_a_connection_error_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://ops:{SECRET}@127.0.0.1:1"
    async with AsyncClickSend("u", "k", base_url="http://127.0.0.1:2/v3", proxy=url) as cs:
        with pytest.raises(errors.ConnectionError) as info:
            await cs.account.get()
    assert not leaks(str(info.value)) and not leaks(caplog.text)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ALL_PROXY", f"socks5://ops:{SECRET}@127.0.0.1:1080"), ("HTTPS_PROXY", "ftp://host:21")],
)
def test_an_unsupported_proxy_is_a_typed_error_at_construction(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(errors.ClickSendError, match=variable) as info:
        AsyncClickSend("u", "k")
    assert SECRET not in str(info.value) and "trust_env=False" in str(info.value)
    AsyncClickSend("u", "k", trust_env=False)  # the way out the message names


def test_proxy_option_is_refused_with_an_injected_client_or_transport() -> None:
    with pytest.raises(errors.ClickSendError, match=r"httpx\.AsyncClient\(proxy="):
        AsyncClickSend("u", "k", proxy="http://127.0.0.1:3128", http_client=httpx.AsyncClient())
    with pytest.raises(errors.ClickSendError, match="transport= or http_client="):
        AsyncClickSend(
            "u", "k", proxy="http://127.0.0.1:3128", transport=httpx.MockTransport(lambda r: r)
        )


def test_proxy_settings_resolution() -> None:
    settings = ProxySettings(f"http://a:{SECRET}@proxy:3128", trust_env=False)
    chosen = settings.for_url(httpx.URL("https://rest.clicksend.com/v3")._uri_reference)  # type: ignore[arg-type]
    assert chosen is not None
    url, authorization = chosen
    assert str(url) == "http://proxy:3128" and authorization == basic("a", SECRET)
    sender = DefaultSender(timeout=1.0, max_connections=1, proxy=None, trust_env=False)
    assert not sender.proxies.configured
