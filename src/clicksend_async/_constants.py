"""Every policy number of the SDK, in one place: retries, timeouts, pools, pages, auth, bulk.

Bottom layer: imports nothing of the SDK. Modules read these names; tests and benchmarks may
monkeypatch them. Values that are facts of the API (page-size bounds, 1000 messages per send)
are marked as such; the rest are choices, each with its reason.
"""

from __future__ import annotations

import httpx

# -- endpoints -------------------------------------------------------------------------------------
DEFAULT_BASE_URL = "https://rest.clicksend.com/v3"
VOXIMPLANT_BASE_URL = "https://api.voximplant.com/platform_api"
USER_AGENT = "clicksend-async/0.1.0"

# -- retries (see _retry.py for how they combine) --------------------------------------------------
DEFAULT_MAX_RETRIES = 2
BACKOFF_INITIAL = 0.5  # seconds before the first retry
BACKOFF_MULTIPLIER = 2.0
BACKOFF_MAX = 8.0  # cap of the exponential part
JITTER_FRACTION = 0.25  # up to this fraction of the delay is added at random
DEFAULT_MAX_RETRY_AFTER = 60.0  # a longer Retry-After is not waited out: the error is raised
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

# -- timeouts, pool, limiter -----------------------------------------------------------------------
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, pool=None)  # pool: the SDK queues, not httpx
DEFAULT_MAX_CONCURRENCY = 64
DEFAULT_RATE_LIMIT_PER_SECOND: float | None = None  # client-side bucket off unless asked for
KEEPALIVE_SECONDS = 30.0  # idle pooled connections are closed after this (aiohttp connector)

# -- pagination (the API's bounds for `limit`) -----------------------------------------------------
DEFAULT_PAGE_SIZE = 100  # the API's maximum: fewest requests
MIN_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100

# -- Voximplant ------------------------------------------------------------------------------------
# JWTs: valid for well under an hour, refreshed a minute before they expire, and issued a few
# seconds in the past so a server clock slightly behind ours still accepts them.
JWT_LIFETIME = 1200.0
JWT_REFRESH_BEFORE_EXPIRY = 60.0
JWT_CLOCK_SKEW = 5.0
VOXIMPLANT_MAX_COUNT = 1000  # GetCallHistory's page size limit (API fact)
VOXIMPLANT_MAX_OFFSET = 10_000  # GetCallHistory refuses larger offsets (API fact)

# -- bulk sends ------------------------------------------------------------------------------------
BULK_MAX_PER_REQUEST = 1000  # messages (recipients) per send request (API fact)
BULK_SCHEDULE_GRACE = 3600.0  # a schedule further in the past than this is refused as invalid
# History lookups of a run start this many seconds before it: clocks and queueing differ.
BULK_HISTORY_SLACK = 300.0
