"""Amounts of money: doubles on the wire, exact `Decimal` cents everywhere else.

The proto carries money as `double` because API.md wants JSON numbers. A
double is turned into a Decimal through its shortest text form, so `0.1`
becomes exactly `0.10`, and anything a cent cannot hold exactly is refused
rather than rounded: rounding would move money the caller did not ask for.
"""

from __future__ import annotations

import math
from decimal import Decimal

from common.errors import BadRequest

CENT = Decimal("0.01")
#: Largest single amount accepted (one trillion). Far above any real payment,
#: and low enough that every cent below it survives the trip through a double.
MAX_AMOUNT = Decimal("1000000000000")


def parse_amount(value: float, field: str = "amount") -> Decimal:
    """The positive, whole-cent amount a request carries in `field`.

    Raises:
        BadRequest: the value is not finite, not above zero, above
            MAX_AMOUNT, or has more than two decimal places; the message
            names the field.
    """
    if not math.isfinite(value):
        raise BadRequest(f"{field} must be a finite number")
    amount = Decimal(str(value))
    if amount <= 0:
        # API.md's wording for amounts ("Amount must be greater than 0").
        raise BadRequest(f"{field[:1].upper()}{field[1:]} must be greater than 0")
    if amount > MAX_AMOUNT:
        raise BadRequest(f"{field} must be at most {MAX_AMOUNT}")
    cents = amount.quantize(CENT)
    if cents != amount:
        raise BadRequest(f"{field} must have at most 2 decimal places")
    return cents


def to_wire(amount: Decimal) -> float:
    """The double a response carries for an exact amount."""
    return float(amount)
