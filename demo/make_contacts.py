"""Write demo/contacts.csv, the input of `make demo`: the same bytes on every run.

10,000 rows of phone,first_name,last_name with unique Australian mobiles (+614xxxxxxxx), and rows
for every bucket of the campaign summary: 40 numbers ending in 999 (the emulator marks them
Undelivered), 12 empty and 8 malformed phones and 5 empty first names (reported invalid, not sent).

    python demo/make_contacts.py            # rewrites demo/contacts.csv
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROWS = 10_000
UNDELIVERABLE = 40  # numbers ending in 999
EMPTY_PHONES = 12
MALFORMED_PHONES = (
    "0412 345 abc",
    "+61-4-CALL-ME",
    "n/a",
    "0412-ABC-789",
    "12345",
    "+61 4",
    "TBA",
    "?",
)
EMPTY_FIRST_NAMES = 5
SEED = 20261101

FIRST_NAMES = (
    "Olivia", "Jack", "Charlotte", "Noah", "Amelia", "William", "Isla", "Oliver", "Mia", "Leo",
    "Ava", "Henry", "Grace", "Thomas", "Chloe", "Lucas", "Zoe", "James", "Ruby", "Harrison",
    "Sienna", "Ethan", "Matilda", "Hudson", "Evie", "Lachlan", "Harper", "Cooper", "Ivy", "Archie",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Johnson", "White", "Martin",
    "Anderson", "Thompson", "Nguyen", "Thomas", "Walker", "Harris", "Lee", "Ryan", "Robinson",
    "Kelly", "King", "Davis", "Wright", "Evans", "Roberts", "Green", "Hall", "Wood", "Jackson",
)  # fmt: skip


def contacts(seed: int = SEED) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    phones: list[str] = []
    seen: set[str] = set()
    while len(phones) < ROWS:
        number = f"+614{rng.randrange(10**8):08d}"
        if number not in seen and not number.endswith("999"):
            seen.add(number)
            phones.append(number)
    rows = [(phone, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for phone in phones]
    # Distinct rows for each special case, at positions spread through the file.
    special = rng.sample(
        range(ROWS), UNDELIVERABLE + EMPTY_PHONES + len(MALFORMED_PHONES) + EMPTY_FIRST_NAMES
    )
    undeliverable, special = special[:UNDELIVERABLE], special[UNDELIVERABLE:]
    empty, special = special[:EMPTY_PHONES], special[EMPTY_PHONES:]
    malformed, no_name = special[: len(MALFORMED_PHONES)], special[len(MALFORMED_PHONES) :]
    for index in undeliverable:
        phone, first, last = rows[index]
        rows[index] = (phone[:-3] + "999", first, last)
    for index in empty:
        rows[index] = ("", *rows[index][1:])
    for index, bad in zip(malformed, MALFORMED_PHONES, strict=True):
        rows[index] = (bad, *rows[index][1:])
    for index in no_name:
        rows[index] = (rows[index][0], "", rows[index][2])
    return rows


def main() -> None:
    path = Path(__file__).with_name("contacts.csv")
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("phone", "first_name", "last_name"))
        writer.writerows(contacts())
    print(f"wrote {path} ({ROWS:,} rows)")


if __name__ == "__main__":
    main()
