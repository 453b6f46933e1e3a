"""Bulk sends: any number of messages, chunked to the API's 1000 per request, sent concurrently
under the client's limits, resumable, and never duplicated or misattributed.

    report = await cs.sms.send_bulk(messages, checkpoint="campaign.jsonl", on_progress=print)
    await report.reconcile(cs)          # settle the chunks whose outcome was unknown

Every input message ends in exactly one bucket of the :class:`BulkReport`:

- ``accepted``: the API took it (``message_id``),
- ``rejected``: refused before sending (invalid input, or a value that cannot be serialised: the
  reason names the field) or by the API per recipient (``status`` such as INVALID_RECIPIENT),
- ``failed``: in a chunk that provably was not processed (a 4xx answer, a refused connection, a
  429 after every retry): safe to send again,
- ``unknown``: in a chunk that may have been processed (dropped connection after writing, read
  timeout, 5xx, any 2xx answer that cannot be read, a run stopped mid-request). Never retried
  automatically: :meth:`BulkReport.reconcile` looks the messages up in the history and moves each
  to ``accepted`` or, once absent for ``min_age`` seconds, ``safe_to_resend``,
- ``not_sent``: read from the input but never attempted (the run was cancelled or stopped).

Each message is sent with its ``custom_string``: the caller's as given (it may repeat), else a
unique ``<run id>-<chunk>-<input index>``. Answers and history records are matched to messages
one to one (position, reference and recipient), never by reference alone.

Chunk ``n`` holds the messages at input positions ``n*chunk_size`` to ``(n+1)*chunk_size - 1``
(rejected ones left out), so one changed row affects one chunk only. A checkpoint records the run
(channel, operation, chunk size, shared fields) and, for each request, the digest of its messages'
wire content, written *before* the request (see ``_checkpoint``); a file checkpoint is locked
while a run uses it (see ``_store``). A shared checkpoint (``_store.Claiming``, e.g.
:class:`~clicksend_async.redis_checkpoint.RedisCheckpoint`) lets N workers run one campaign over
the same input: each part is claimed before it is sent, and a part another worker claimed is
``claimed_elsewhere`` in this worker's report.
"""

from clicksend_async.bulk._calls import BulkClient, history_of
from clicksend_async.bulk._outcomes import BulkProgress, ChunkFailure, MessageOutcome
from clicksend_async.bulk._reconcile import DEFAULT_MIN_AGE, HISTORY_SKEW
from clicksend_async.bulk._report import BulkReport
from clicksend_async.bulk._send import send_bulk
from clicksend_async.bulk._store import Checkpoint, FileCheckpoint, MemoryCheckpoint
from clicksend_async.bulk._validate import MAX_PER_REQUEST

__all__ = [
    "DEFAULT_MIN_AGE",
    "HISTORY_SKEW",
    "MAX_PER_REQUEST",
    "BulkClient",
    "BulkProgress",
    "BulkReport",
    "Checkpoint",
    "ChunkFailure",
    "FileCheckpoint",
    "MemoryCheckpoint",
    "MessageOutcome",
    "history_of",
    "send_bulk",
]
