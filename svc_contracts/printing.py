"""PrintContract's plain-text rendering (API.md 5.4.1), byte for byte.

The reference built the text with Java string concatenation, so its values
look the way Java prints them: `null` for a missing value, dates as
`Date.toString()` in UTC (`Wed Jan 01 00:00:00 UTC 2025`) and amounts as
`Double.toString()` (`30000.0`, `1.0E7`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from svc_contracts.model import ContractFile, Milestone

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
#: Java prints a double positionally only within [1e-3, 1e7).
_PLAIN_RANGE = (1e-3, 1e7)


def contract_text(file: ContractFile) -> str:
    """The contract, then its milestones in the contract's own order; ids in
    `milestone_ids` that have no milestone are skipped."""
    contract = file.contract
    lines = [
        f"Contract ID: {contract.id}",
        f"Contract Status: {contract.status}",
        f"Contract Freelancer ID: {java_text(contract.freelancer_id)}",
        f"Contract Client ID: {java_text(contract.client_id)}",
        f"Contract Job ID: {java_text(contract.job_id)}",
        f"Contract Proposal ID: {java_text(contract.proposal_id)}",
        f"Contract Job Title: {java_text(contract.job_title)}",
        "Contract Milestones: ",
    ]
    by_id = {str(m.id): m for m in file.milestones}
    for milestone_id in contract.milestone_ids:
        if milestone_id in by_id:
            lines.extend(_milestone_lines(by_id[milestone_id]))
    return "".join(f"{line}\n" for line in lines)


def _milestone_lines(milestone: Milestone) -> list[str]:
    return [
        f"Milestone ID: {milestone.id}",
        f"Milestone Contract ID: {milestone.contract_id}",
        f"Milestone Description: {java_text(milestone.description)}",
        f"Milestone Due Date: {java_date(milestone.due_date)}",
        f"Milestone Amount: {java_double(float(milestone.amount))}",
    ]


def java_text(value: str | None) -> str:
    return "null" if value is None else value


def java_date(value: dt.datetime | None) -> str:
    """What `java.util.Date.toString()` prints in a JVM running in UTC."""
    if value is None:
        return "null"
    moment = value.astimezone(dt.UTC)
    day = _DAYS[moment.weekday()]
    month = _MONTHS[moment.month - 1]
    return f"{day} {month} {moment.day:02d} {moment:%H:%M:%S} UTC {moment.year}"


def java_double(value: float) -> str:
    """What `Double.toString(value)` prints: the shortest digits that read
    back as the same double, positional in [1e-3, 1e7), else `d.dddEn`."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or _PLAIN_RANGE[0] <= abs(value) < _PLAIN_RANGE[1]:
        # Python's repr is positional in this range and also the shortest.
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {value!r}")
    text = "".join(map(str, digits))
    power = len(text) + exponent - 1
    mantissa = f"{text[0]}.{text[1:] or '0'}"
    return f"{'-' if sign else ''}{mantissa}E{power}"
