"""Matching what the API says (a send's answer, history records) to the messages that were sent.

Matching is one to one and never by reference alone: a caller's ``custom_string`` may repeat (a
campaign tag), so an answer is checked against the message's position, reference and recipient
(``to`` or ``list_id``). What cannot be matched with certainty stays unknown, with a reason.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from clicksend_async.bulk._calls import field_of
from clicksend_async.bulk._outcomes import MessageOutcome

NUMBER_KEY_DIGITS = 8  # the API may reformat a number (0411... -> +61411...): compare the tail
_NOT_DIGIT = re.compile(r"\D")


def number_key(number: Any) -> str:
    """The last digits of a phone number: equal for the forms the API writes one number in."""
    digits = _NOT_DIGIT.sub("", str(number or ""))
    return digits[-NUMBER_KEY_DIGITS:]


def recipient_key(outcome: MessageOutcome) -> str:
    if outcome.to is not None:
        return "to:" + number_key(outcome.to)
    return f"list:{outcome.list_id}"


def answer_keys(answer: Any) -> list[tuple[str, str]]:
    """The (reference, recipient) keys an answer or history record can match."""
    reference = field_of(answer, "custom_string")
    if reference is None:
        return []
    keys = []
    to = field_of(answer, "to")
    if to not in (None, ""):
        keys.append((str(reference), "to:" + number_key(to)))
    list_id = field_of(answer, "list_id")
    if list_id not in (None, ""):
        keys.append((str(reference), f"list:{list_id}"))
    return keys


def _fits(outcome: MessageOutcome, answer: Any) -> bool:
    reference = field_of(answer, "custom_string")
    if reference is None or str(reference) != outcome.reference:
        return False
    if outcome.to is not None:
        to = field_of(answer, "to")
        # The number as sent (the usual answer) needs no digit comparison.
        return to in (None, "") or to == outcome.to or number_key(to) == number_key(outcome.to)
    list_id = field_of(answer, "list_id")
    return list_id in (None, "") or str(list_id) == str(outcome.list_id)


@dataclass
class Attribution:
    accepted: list[MessageOutcome] = field(default_factory=list)
    rejected: list[MessageOutcome] = field(default_factory=list)
    unknown: list[MessageOutcome] = field(default_factory=list)


def attribute(outcomes: Sequence[MessageOutcome], answers: Sequence[Any]) -> Attribution:
    """Settle each sent message from the answer's per-recipient entries.

    First in order (the API answers in request order; a list_id message may take several
    entries, one per contact), then, past the first entry that does not fit, by (reference,
    recipient) where that pair is unique on both sides. The rest stays unknown.
    """
    result = Attribution()
    accepted = result.accepted
    # The usual answer (JSON, each message's SUCCESS entry in order): what _fits and _settle
    # (_accept) decide for each, in one pass; from the first other entry on, the general way.
    position = 0
    for outcome, answer in zip(outcomes, answers, strict=False):  # (either may be longer)
        if (
            type(answer) is not dict
            or outcome.to is None
            or answer.get("status") != "SUCCESS"
            or answer.get("custom_string") != outcome.reference
            or answer.get("to") != outcome.to
        ):
            break
        _accept(outcome, answer.get("message_id"), accepted)
        position += 1
    count = len(answers)
    rest: list[MessageOutcome] = []
    for number, outcome in enumerate(outcomes[position:], position):
        if outcome.to is None:  # a list: every consecutive entry of that list
            mine = []
            while position < count and _fits(outcome, answers[position]):
                mine.append(answers[position])
                position += 1
            if mine:
                _settle(outcome, mine, result)
                continue
        elif position < count and _fits(outcome, answers[position]):
            _settle(outcome, [answers[position]], result)
            position += 1
            continue
        rest = list(outcomes[number:])
        break
    if rest:
        by_key: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for answer in answers[position:]:
            for key in answer_keys(answer):
                by_key[key].append(answer)
        wanted = Counter((o.reference, recipient_key(o)) for o in rest)
        for outcome in rest:
            key = (outcome.reference, recipient_key(outcome))
            found = by_key.get(key, [])
            if wanted[key] == 1 and (len(found) == 1 or (found and outcome.to is None)):
                _settle(outcome, found, result)
            else:
                outcome.reason = (
                    "the answer does not mention this message"
                    if not found
                    else "the answer cannot be matched to this message one to one"
                )
                result.unknown.append(outcome)
    return result


def _accept(outcome: MessageOutcome, message_id: Any, accepted: list[MessageOutcome]) -> None:
    outcome.message_id = message_id if message_id is None else str(message_id)
    outcome.status = "SUCCESS"
    accepted.append(outcome)


def _settle(outcome: MessageOutcome, mine: list[Any], result: Attribution) -> None:
    statuses = [field_of(a, "status") for a in mine]
    if "SUCCESS" in statuses:
        _accept(outcome, field_of(mine[statuses.index("SUCCESS")], "message_id"), result.accepted)
    elif statuses[0] is None:
        outcome.reason = "the answer gives no status for this message"
        result.unknown.append(outcome)
    else:
        outcome.status = str(statuses[0])
        outcome.reason = f"the API answered {outcome.status}"
        result.rejected.append(outcome)


@dataclass
class Lookup:
    """The history's verdict on one unknown message."""

    outcome: MessageOutcome
    found: list[Any]  # the history records that match it
    shared: bool  # other unknown messages have its reference and recipient
    ambiguous: bool  # shared, or several records for a single-recipient message


def look_up(
    outcomes: Sequence[MessageOutcome], records: Sequence[Any], known_ids: set[str]
) -> list[Lookup]:
    """Each unknown message against the history records found for it.

    Records already attributed (``known_ids``: message ids in ``accepted``) are skipped. A
    message is only matched when no other unknown message has its reference and recipient, and
    a single-recipient message only to exactly one record: otherwise it stays ambiguous.
    """
    by_key: dict[tuple[str, str], list[Any]] = defaultdict(list)
    seen: set[Any] = set()
    for record in records:
        message_id = field_of(record, "message_id")
        identity = message_id if message_id is not None else id(record)
        if identity in seen or (message_id is not None and str(message_id) in known_ids):
            continue
        seen.add(identity)
        for key in answer_keys(record):
            by_key[key].append(record)
    wanted = Counter((o.reference, recipient_key(o)) for o in outcomes)
    lookups = []
    for outcome in outcomes:
        key = (outcome.reference, recipient_key(outcome))
        found = by_key.get(key, [])
        shared = wanted[key] > 1
        ambiguous = shared or (outcome.to is not None and len(found) > 1)
        lookups.append(Lookup(outcome, found, shared, ambiguous))
    return lookups
