"""Writes on cases: submit (start the process), finish, and case numbers."""

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
    concurrent submissions get consecutive, unique numbers."""
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
