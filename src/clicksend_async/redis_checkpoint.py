"""One ``send_bulk`` campaign run by N workers at once, its checkpoint in Redis
(``clicksend-async[redis]``).

    store = RedisCheckpoint("redis://127.0.0.1:6379/0", campaign="spring-sale")
    report = await cs.sms.send_bulk(messages, checkpoint=store)   # in every worker, same input
    campaign = store.report()          # any worker, or another process: the whole campaign
    await campaign.reconcile(cs)

Every worker reads the whole input and chunks it the same way (chunk ``n`` is input positions
``n*chunk_size`` on); before a chunk is sent it is **claimed** in Redis by one Lua script (store
its write-ahead in-flight record unless the chunk part has one), so exactly one worker sends it.
The others skip it (``report.claimed_elsewhere``). The rest are the file checkpoint's rules
(:mod:`clicksend_async.bulk`): the first worker's run header (channel, operation, chunk size,
shared fields, run id) is the campaign's, and a worker with other settings, or whose input
differs from what the campaign recorded, gets
:class:`~clicksend_async.errors.CheckpointMismatchError` before it sends anything (a chunk another
worker claimed with other messages stops the worker at that chunk). Every message keeps the
reference ``<run id>-<chunk>-<index>``, whichever worker sent it.

A worker that dies leaves its in-flight chunks in-flight: a later worker (or a restart) sees them
as ``unknown``, never sends them again, and :meth:`RedisCheckpoint.report` puts them in
``unknown`` for ``reconcile()``. ``failed`` chunks (provably not processed) are sent again by the
next worker that starts, as a new part claimed the same way.

**Keys** (the braces are a Redis Cluster hash tag, so a script may touch all of them):

    <ns>:{<campaign>}:run      STRING  the run header (JSON), set once
    <ns>:{<campaign>}:parts    HASH    "<chunk>:<part>" -> in-flight record, worker, messages
    <ns>:{<campaign>}:final    HASH    "<chunk>:<part>" -> its final record (done/unknown/failed)
    <ns>:{<campaign>}:refused  HASH    chunk -> its messages refused before sending
    <ns>:{<campaign>}:meta     HASH    total: the input's length, once a worker read it all

Nothing expires: :meth:`RedisCheckpoint.delete` removes a finished campaign.

**Why redis-py's synchronous client:** the engine's checkpoint interface is synchronous (the file
checkpoint fsyncs in the event loop the same way), there are two round trips per chunk of up to
1000 messages, and a synchronous client works under asyncio and trio alike. A Redis that cannot
be reached is a :class:`~clicksend_async.errors.CheckpointError`: before the run, nothing is sent;
mid-run, the run stops (what was in flight is settled first).
"""

from __future__ import annotations

import json
import math
import secrets
import time
from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from clicksend_async import _constants, errors
from clicksend_async.bulk import BulkReport, ChunkFailure, MessageOutcome

__all__ = ["RedisCheckpoint"]

_BEGIN = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""
# Returns {'ok'}, {'held', <entry>} or {'gone'} (the run header is not the one the worker read).
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'gone'} end
local held = redis.call('HGET', KEYS[2], ARGV[2])
if held then return {'held', held} end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return {'ok'}
"""
_MAX_TOTAL = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'total') or '-1')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'total', ARGV[1]) end
return 1
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class RedisCheckpoint:
    """A :class:`~clicksend_async.bulk.Checkpoint` shared by every worker of one campaign.

    :param url: ``redis://[[user]:password@]host:port/db``, ``rediss://...`` or ``unix://...``.
    :param client: instead of ``url``, a synchronous ``redis.Redis`` of yours (never closed here).
    :param campaign: the campaign's id: every worker of the campaign passes the same one.
    :param namespace: first part of every key (several applications can share one Redis).
    :param timeout: seconds for connecting and for each answer.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        campaign: str,
        client: Redis | None = None,
        namespace: str = "clicksend",
        timeout: float = _constants.REDIS_TIMEOUT,
    ) -> None:
        if (url is None) == (client is None):
            raise errors.ClickSendError("RedisCheckpoint: pass url= or client=, exactly one")
        for name, value in (("campaign", campaign), ("namespace", namespace)):
            if (
                not isinstance(value, str)
                or not value
                or len(value) > 200
                or any(c in value for c in "{}")
                or any(c.isspace() or not c.isprintable() for c in value)
            ):
                raise errors.ClickSendError(
                    f"RedisCheckpoint {name} must be 1-200 printable characters without braces "
                    f"or spaces, got {errors.escape_control(repr(value))}"
                )
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise errors.ClickSendError(
                f"RedisCheckpoint timeout must be a positive number of seconds, got {timeout!r}"
            )
        self.campaign = campaign
        self.worker = secrets.token_hex(4)  # names this instance in its claims
        self.path = f"redis {namespace}:{{{campaign}}}"  # names the store in errors
        prefix = f"{namespace}:{{{campaign}}}"
        self._run, self._parts, self._final = f"{prefix}:run", f"{prefix}:parts", f"{prefix}:final"
        self._refused, self._meta = f"{prefix}:refused", f"{prefix}:meta"
        self._owned = client is None
        if client is None:
            assert url is not None
            try:
                client = Redis.from_url(
                    url,
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 1),  # a pooled connection Redis closed: once more
                )
            except (TypeError, ValueError) as exc:
                raise errors.ClickSendError(
                    errors.escape_control(errors.redact(f"RedisCheckpoint url: {exc}"))
                ) from None
        self._client: Redis = client
        self._begin = client.register_script(_BEGIN)
        self._claim = client.register_script(_CLAIM)
        self._max_total = client.register_script(_MAX_TOTAL)
        self._header: str | None = None  # the run header as stored, once begin() has read it

    def __repr__(self) -> str:
        return f"RedisCheckpoint(campaign={self.campaign!r}, worker={self.worker!r})"

    # -- the Checkpoint interface (and Claiming) ------------------------------------------------

    def begin(self, header: dict[str, Any]) -> list[dict[str, Any]]:
        stored = self._call(lambda: self._begin(keys=[self._run], args=[_dumps(header)]))
        self._header = stored.decode() if isinstance(stored, bytes) else str(stored)
        return self._records(self._header)

    def load(self) -> list[dict[str, Any]]:
        stored = self._call(lambda: self._client.get(self._run))
        if stored is None:
            return []
        return self._records(stored.decode())

    def claim(
        self, record: dict[str, Any], messages: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        if self._header is None:
            raise errors.CheckpointError(self.path, "claim() before begin()")
        entry = _dumps({"record": record, "worker": self.worker, "messages": messages})
        field = f"{record['chunk']}:{record['part']}"
        reply = self._call(
            lambda: self._claim(keys=[self._run, self._parts], args=[self._header, field, entry])
        )
        verdict = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if verdict == "ok":
            return None
        if verdict == "gone":
            raise errors.CheckpointError(
                self.path, "the campaign's run is no longer in Redis (deleted?); run stopped"
            )
        held: dict[str, Any] = json.loads(reply[1])["record"]
        return held

    def save(self, record: dict[str, Any]) -> None:
        kind = record.get("kind")
        if kind == "chunk":
            field = f"{record['chunk']}:{record['part']}"
            self._call(lambda: self._client.hset(self._final, field, _dumps(record)))
        elif kind == "refused":
            chunk = str(record["chunk"])
            self._call(lambda: self._client.hsetnx(self._refused, chunk, _dumps(record)))
        elif kind == "end":
            total = str(int(record["total"]))
            self._call(lambda: self._max_total(keys=[self._meta], args=[total]))
        else:
            raise errors.CheckpointError(self.path, f"cannot store a {kind!r} record")

    # -- the campaign ---------------------------------------------------------------------------

    def report(self) -> BulkReport:
        """The merged report of the whole campaign (every worker's chunks), each message in
        exactly one bucket: ``accepted``/``rejected``/``failed``/``unknown`` as recorded (a part
        still in flight is ``unknown``: its worker may be sending it, or have died), and
        ``not_sent`` for positions no worker has sent. ``total`` is the input's length once a
        worker has read it all (``cancelled`` is True until then). ``await report.reconcile(cs)``
        settles the unknown ones."""
        stored = self._call(lambda: self._client.get(self._run))
        if stored is None:
            raise errors.CheckpointError(self.path, "no run of this campaign is stored")
        header = json.loads(stored)
        parts, finals, refused, total = self._call(self._read_all)
        report = BulkReport(
            channel=str(header["channel"]),
            run_id=str(header["run_id"]),
            started_at=float(header["started"]),
        )
        owner: dict[int, tuple[int, int]] = {}  # index -> the part that settles it
        for key in sorted(parts):
            failed = finals.get(key, {}).get("state") == "failed"
            for outcome in parts[key]["messages"]:
                held = owner.get(outcome["index"])
                # A failed part is superseded by the part that sent its messages again.
                if held is None or (finals.get(held, {}).get("state") == "failed" and not failed):
                    owner[outcome["index"]] = key
        for key in sorted(parts):
            self._settle(report, key, parts[key], finals.get(key), owner)
        for record in refused:
            for item in record["messages"]:
                if item["index"] not in owner:
                    owner[item["index"]] = (-1, -1)
                    report.rejected.append(MessageOutcome(**item))
        if total is None:
            report.cancelled = True  # no worker has read the whole input yet
        report.total = max(total or 0, max(owner, default=-1) + 1)
        report.not_sent.extend(
            MessageOutcome(i, "", reason="no worker of the campaign has sent it")
            for i in range(report.total)
            if i not in owner
        )
        return report

    def delete(self) -> None:
        """Remove the campaign from Redis (its run, claims and outcomes)."""
        keys = (self._run, self._parts, self._final, self._refused, self._meta)
        self._call(lambda: self._client.delete(*keys))

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> RedisCheckpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------

    def _settle(
        self,
        report: BulkReport,
        key: tuple[int, int],
        entry: dict[str, Any],
        final: dict[str, Any] | None,
        owner: dict[int, tuple[int, int]],
    ) -> None:
        record = entry["record"]
        mine = [MessageOutcome(**m) for m in entry["messages"] if owner.get(m["index"]) == key]
        if not mine:
            return
        sent_at, until = float(record["sent_at"]), record["until"]
        answered = None if final is None else float(final["answered_at"])
        state = "inflight" if final is None else final["state"]
        if state == "done":
            assert final is not None
            report.accepted.extend(MessageOutcome(**m) for m in final.get("accepted", []))
            report.rejected.extend(MessageOutcome(**m) for m in final.get("rejected", []))
            mine = [MessageOutcome(**m) for m in final.get("unknown", [])]
            if not mine:
                return
            error, error_type = "the answer does not settle these messages", "UnmatchedAnswer"
        elif state == "inflight":
            error = (
                f"in flight (worker {entry['worker']}): still being sent, or its worker stopped "
                "mid-request (recorded write-ahead)"
            )
            error_type = "Interrupted"
        else:
            error = str(final.get("error") or state) if final else state
            error_type = str(final.get("error_type") or state.title()) if final else state
        failure = ChunkFailure(
            key[0], error, error_type, mine, part=key[1], sent_at=sent_at, answered_at=answered,
            until=until, unknown_since=answered or time.time(),
        )  # fmt: skip
        (report.failed if state == "failed" else report.unknown).append(failure)

    def _read_all(
        self,
    ) -> tuple[
        dict[tuple[int, int], dict[str, Any]],
        dict[tuple[int, int], dict[str, Any]],
        list[dict[str, Any]],
        int | None,
    ]:
        pipe = self._client.pipeline(transaction=True)  # one consistent view (MULTI/EXEC)
        pipe.hgetall(self._parts)
        pipe.hgetall(self._final)
        pipe.hvals(self._refused)
        pipe.hget(self._meta, "total")
        parts, finals, refused, total = pipe.execute()
        return (
            {_part_key(k): json.loads(v) for k, v in parts.items()},
            {_part_key(k): json.loads(v) for k, v in finals.items()},
            [json.loads(v) for v in refused],
            None if total is None else int(total),
        )

    def _records(self, header: str) -> list[dict[str, Any]]:
        """The stored run as the engine reads a checkpoint: header, then per part its
        in-flight record and (if any) its final one."""
        parts, finals, _, _ = self._call(self._read_all)
        records: list[dict[str, Any]] = [json.loads(header)]
        for key in sorted(parts):
            records.append(parts[key]["record"])
            if key in finals:
                records.append(finals[key])
        return records

    def _call(self, action: Any) -> Any:
        try:
            return action()
        except (RedisError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise errors.CheckpointError(
                self.path, errors.escape_control(errors.redact(f"Redis unavailable ({reason})"))
            ) from exc


def _part_key(field: bytes | str) -> tuple[int, int]:
    chunk, part = (field.decode() if isinstance(field, bytes) else field).split(":")
    return int(chunk), int(part)
