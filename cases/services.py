"""Writes on cases: submit (start the process), finish, and case numbers."""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core import memo, plans
from core.i18n import deferred
from notifications.services import batched as notifications_batched
from notifications.services import notify

from . import trail
from .models import Case, CaseNumberCounter, CaseStatus


def allocate_number(prefix, *, year=None):
    """Next number for the prefix and year, e.g. KN-2026-000001. The counter row is locked, so
    concurrent submissions get consecutive, unique numbers; within `numbers_reserved`, the next
    number of the reserved block."""
    block = _reserved.get()
    # The whole bulk submission numbers in its block, past midnight on 31 December too.
    if block is not None and block.prefix == prefix and year in (None, block.year) and block.left:
        return block.take()
    year = year or timezone.localdate().year
    for _attempt in range(3):
        try:
            with transaction.atomic():
                counter, _created = CaseNumberCounter.objects.select_for_update().get_or_create(
                    prefix=prefix, year=year
                )
                counter.last += 1
                counter.save(update_fields=["last"])
                return f"{prefix}-{year}-{counter.last:06d}"
        except IntegrityError:
            continue  # another transaction created the counter row first; lock it now
    raise RuntimeError("could not allocate a case number")


@dataclass
class _Block:
    prefix: str
    year: int
    first: int
    last: int
    taken: int = 0

    @property
    def left(self):
        return self.first + self.taken <= self.last

    def number(self, n):
        return f"{self.prefix}-{self.year}-{n:06d}"

    def take(self):
        self.taken += 1
        return self.number(self.first + self.taken - 1)


_reserved = contextvars.ContextVar("reserved_case_numbers", default=None)


@contextmanager
def numbers_reserved(prefix, count, *, year=None):
    """For a bulk submission (an import of many declarations in one transaction): `count`
    consecutive numbers are taken from the counter in a short transaction of their own, and
    `allocate_number` hands them out meanwhile. Holding the counter's lock for the whole bulk
    transaction would make every other submission with the prefix wait for it — and a web
    request gives up after DB_STATEMENT_TIMEOUT_SECONDS. Numbers left unused (the bulk
    transaction rolled back, or took fewer) are given back if no number was taken since;
    otherwise they stay a gap in the sequence. Entered inside a transaction, whose lock on the
    counter would last as long anyway, it reserves nothing: numbers are allocated as usual."""
    if transaction.get_connection().in_atomic_block:
        yield None
        return
    year = year or timezone.localdate().year
    with transaction.atomic():
        counter, _created = CaseNumberCounter.objects.select_for_update().get_or_create(
            prefix=prefix, year=year
        )
        first = counter.last + 1
        counter.last += count
        counter.save(update_fields=["last"])
    block = _Block(prefix, year, first, first + count - 1)
    token = _reserved.set(block)
    try:
        yield block
    finally:
        _reserved.reset(token)
        _give_back(block)


def _give_back(block):
    """The block's numbers after the last one a committed case bears (read from the cases, not
    remembered: whatever the bulk transaction did), while nobody took a number since."""
    used = (
        Case.objects.filter(
            number__gte=block.number(block.first), number__lte=block.number(block.last)
        )
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    used_up_to = int(used.rsplit("-", 1)[1]) if used else block.first - 1
    if used_up_to == block.last:
        return
    with transaction.atomic():
        CaseNumberCounter.objects.filter(
            prefix=block.prefix, year=block.year, last=block.last
        ).update(last=used_up_to)


def submit_case(
    *,
    process,
    organization,
    applicant,
    submitted_by,
    title="",
    amount=None,
    data=None,
    record=None,
):
    """Create the case, record its submission and start its flow, in one transaction.
    `record(case)` creates the process's own record (its fields) before the flow starts, so
    the first steps can read it."""
    from workflows.base import flow_for

    flow_class = flow_for(process)
    with (
        memo.operation(),
        trail.acting(actor=submitted_by),
        transaction.atomic(),
        notifications_batched(),
    ):
        plans.generic_plans()  # a new case's rows are found by key (core.plans)
        case = Case.objects.create(
            number=allocate_number(flow_class.number_prefix),
            process=process,
            organization=organization,
            applicant=applicant,
            submitted_by=submitted_by,
            title=title,
            amount=amount,
        )
        event_data = dict(data or {})
        if submitted_by.pk != applicant.pk:
            event_data["applicant"] = applicant.username
        if record is not None:
            record(case)
        trail.append(case, "case.submitted", actor=submitted_by, data=event_data)
        flow_class.start.run(case=case)
    return case


def finish_case(case, *, status, outcome):
    """Settle the case at the end of its flow and tell the applicant."""
    case.status = status
    case.outcome = outcome
    case.finished_at = timezone.now()
    case.save(update_fields=["status", "outcome", "finished_at", "updated_at"])
    trail.append(case, f"case.{status}", data={"outcome": outcome})
    recipients = {case.applicant, case.submitted_by}
    notify(
        event=f"case:{case.pk}:finished",
        recipients=list(recipients),
        verb=f"case_{status}",
        title=deferred(
            gettext_lazy("Your case %(number)s: %(status)s"),
            {
                "number": case.number,
                "status": CaseStatus(status).label,
            },
        ),
        body=str(case.title or ""),
        case=case,
        data={"status": status, "outcome": outcome},
    )
