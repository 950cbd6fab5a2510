"""Reminders to unions that have not paid: once, 3 working days before the due date, to the
treasurer and chair; then on each overdue working day to them and the parent's finance
officers. Notification event keys make each reminder happen once, however often the beat runs."""

from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext_lazy

from approvals.calendar import is_working_day, previous_working_day
from core.config import parameter_for_each
from core.i18n import deferred
from notifications.models import Notification
from notifications.services import notify
from organizations.models import Organization, Role
from organizations.selectors import users_with_role

from . import rules
from .models import Remittance
from .selectors import unpaid_unions
from .services import union_officers


def _periods(today):
    """The months to chase: from the first month anyone declared (the system's start) to the
    last complete month."""
    last = (today.replace(day=1) - timezone.timedelta(days=1)).replace(day=1)
    first = Remittance.objects.aggregate(first=Min("period"))["first"] or last
    periods, period = [], last
    while period >= first and len(periods) < 24:
        periods.append(period)
        period = (period - timezone.timedelta(days=1)).replace(day=1)
    return periods


def _reminder_day(due, working_days):
    day = due
    for _step in range(int(working_days)):
        day = previous_working_day(day)
    return day


def send_due_reminders(today=None):
    today = today or timezone.localdate()
    sent = 0
    working_today = is_working_day(today)
    for period in _periods(today):
        unions = list(unpaid_unions(period))
        due_days = parameter_for_each("remittance.due_day", unions, on=period)
        lead = parameter_for_each("remittance.reminder_working_days", unions, on=period)
        for union in unions:
            due = rules.due_date(period, due_day=due_days[union.pk])
            if _reminder_day(due, lead[union.pk]) <= today <= due:
                sent += _remind(union, period, due, overdue=False, today=today)
            elif today > due and working_today:
                sent += _remind(union, period, due, overdue=True, today=today)
    return sent


def _remind(union, period, due, *, overdue, today):
    recipients = union_officers(union)
    label = f"{period:%Y-%m}"
    if overdue:
        parent = Organization.objects.get_parent(union)
        if parent is not None:
            recipients += list(users_with_role(Role.FINANCE_OFFICER, parent))
        event = f"remittance:{union.pk}:{label}:overdue:{today:%Y%m%d}"
        title = gettext_lazy("%(union)s has not paid the union fund for %(period)s (due %(due)s)")
    else:
        event = f"remittance:{union.pk}:{label}:due-soon"
        title = gettext_lazy("The union fund for %(period)s is due on %(due)s")
    if Notification.objects.filter(event=event).exists():
        return 0
    with transaction.atomic():
        notify(
            event=event,
            recipients=recipients,
            verb="remittance_overdue" if overdue else "remittance_due_soon",
            title=deferred(title, {"union": union.name, "period": label, "due": due.isoformat()}),
            data={"organization": union.pk, "period": label, "due_date": due.isoformat()},
        )
    return 1
