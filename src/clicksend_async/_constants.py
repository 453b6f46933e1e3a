"""Every policy number of the SDK, in one place: retries, timeouts, pools, pages, auth, bulk.

Bottom layer: imports nothing of the SDK but ``_types``. Modules read these names; tests and
benchmarks may monkeypatch them. Values that are facts of the API (page-size bounds, 1000
messages per send) are marked as such; the rest are choices, each with its reason.
"""

from __future__ import annotations

from clicksend_async._types import Timeout

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
# connect 5 s, each read/write 30 s, the whole call (queueing, attempts, backoff) 120 s.
# No pool timeout: the SDK queues callers in its limiter, not in httpx's pool.
DEFAULT_TIMEOUT = Timeout(30.0, connect=5.0, pool=None, total=120.0)
DEFAULT_MAX_CONCURRENCY = 64
DEFAULT_RATE_LIMIT_PER_SECOND: float | None = None  # client-side bucket off unless asked for
# Adaptive pacing after 429s without rate-limit headers (AIMD, see _ratelimit.py).
PACE_MIN = 0.5  # requests/s: the pace never drops below this
PACE_DECREASE = 0.5  # multiplicative decrease on a 429
PACE_INCREASE = 1.0  # additive increase: about this many requests/s more per second
PACE_FORGET = 60.0  # seconds without a 429 after which the learned pace is dropped
# Shared limiter (redis_limiter): a Redis that does not answer within this is unavailable (fail
# fast: the request is not sent); its per-account state expires after this long unused (an idle
# account's bucket is full again long before); a client that fell back to local limiting asks
# Redis again this often.
REDIS_TIMEOUT = 1.0
REDIS_STATE_TTL = 600
REDIS_RETRY_INTERVAL = 5.0
# The largest answer body read; a larger one is a typed error and its connection is discarded.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# The largest header section of an answer (status line and headers) the wire sender reads; real
# answers carry ~1 KB. aiohttp's own bound is 128 fields of 8 KB.
MAX_RESPONSE_HEADER_BYTES = 64 * 1024
KEEPALIVE_SECONDS = 30.0  # idle pooled connections are closed after this (both senders' pools)
URL_CACHE_SIZE = 512  # parsed request URLs kept by each sender (ids in paths vary)

# -- pagination (the API's bounds for `limit`) -----------------------------------------------------
DEFAULT_PAGE_SIZE = 100  # the API's maximum: fewest requests
MIN_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
# Page requests in flight (or read ahead and held) after the first page; 1 is sequential reading.
# Measured by bench/pagination.py (20,000 records, 20 ms latency, loopback): 4 reads 3.3x as fast
# as sequential, 8 5.5x, 16 6.4x, each adding only a few MB of RSS. 8 of the client's 64
# max_concurrency slots by default: a long scan is fast, other calls still have most slots.
DEFAULT_PREFETCH = 8

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
# Seconds added before and after a chunk's send window when its messages are looked up in the
# history: the difference between this machine's clock and the API's, plus the time the API may
# take to date a processed request. (Also how far before a run the CLI reads deliveries.)
BULK_HISTORY_SKEW = 300.0
# A message absent from the history is declared safe to resend only once this many seconds have
# passed since its outcome became unknown: the history may lag behind what the API accepted.
BULK_MIN_AGE = 60.0
BULK_SEARCH_CONCURRENCY = 4  # history searches of one reconcile() in flight at once

# -- webhooks (a public URL: anything posted must be refused in bounded time and memory) ---------
MAX_WEBHOOK_BYTES = 1024 * 1024  # a real push is ~12 short fields, well under 2 KB
MAX_WEBHOOK_JSON_DEPTH = 32
MAX_WEBHOOK_FIELDS = 1000
MAX_WEBHOOK_INT_DIGITS = 30
