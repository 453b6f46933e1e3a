"""An embedded ClickSend v3 (and Voximplant GetCallHistory) emulator for offline tests and demos.

cs = AsyncClickSend.sandbox()                         # in-process, no sockets
sandbox = Sandbox(latency=0.02, fault_rate=0.05)      # knobs: see SandboxConfig
cs = AsyncClickSend.sandbox(sandbox)
async with serve_in_background(sandbox) as url: ...   # a real loopback server
"""

from clicksend_async.sandbox._app import (
    DroppedConnection,
    Sandbox,
    SandboxTransport,
    serve,
    serve_in_background,
)
from clicksend_async.sandbox._config import (
    DOCS_TEST_KEY,
    FAULT_KINDS,
    FAULTS_AFTER,
    FAULTS_BEFORE,
    SandboxConfig,
)

__all__ = [
    "DOCS_TEST_KEY",
    "FAULTS_AFTER",
    "FAULTS_BEFORE",
    "FAULT_KINDS",
    "DroppedConnection",
    "Sandbox",
    "SandboxConfig",
    "SandboxTransport",
    "serve",
    "serve_in_background",
]
