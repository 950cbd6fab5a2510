"""Writes of fee remittance: declare a period (also from a bulk import), and the reminders."""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.status import STATUS

from approvals.models import CaseTask
from approvals.spec import APPROVE, DECISION_LABELS
from cases import trail
from cases.models import Case, CaseStatus
from cases.services import submit_case
from core import memo
from core.config import parameter
from core.errors import Conflict, Forbidden, Invalid
from core.i18n import deferred, site_text
from notifications.services import notify
from organizations.models import Organization, OrganizationKind, Role, User
from organizations.selectors import (
    has_role,
    memberships_of,
    organization_in_reach,
    users_with_role,
)

from . import rules, selectors
from .models import Remittance

PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
# The first month a declaration (or the overview) accepts; the last is the current month.
EARLIEST_PERIOD = date(2000, 1, 1)
MAX_PAYROLL = Decimal("9999999999.99")  # what the column holds: ten billion a month
MAX_HEADCOUNT = 1_000_000
MAX_ID = 2**63 - 1  # the largest id the database holds; beyond it nothing can be found


def parse_period(value, *, viewing=False):
    """`YYYY-MM` → the first day of that month (not in the future). `viewing`: the period is
    to be looked at (the overview), not declared, and a future one is refused as such."""
    match = PERIOD_RE.match(str(value or "").strip())
    if not match:
        raise Invalid(_("Use the form YYYY-MM."), fields={"period": [_("Use the form YYYY-MM.")]})
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise Invalid(_("No such month."), fields={"period": [_("No such month.")]})
    period = date(year, month, 1)
    if period < EARLIEST_PERIOD:
        message = _("Choose a month from %(earliest)s to %(latest)s.") % {
            "earliest": f"{EARLIEST_PERIOD:%Y-%m}",
            "latest": f"{latest_period():%Y-%m}",
        }
        raise Invalid(message, fields={"period": [message]})
    if period > latest_period():
        if viewing:
            message = _("A period in the future has nothing to show yet.")
        else:
            message = _("A period in the future cannot be declared.")
        raise Invalid(message, fields={"period": [message]})
    return period


def latest_period():
    """The latest month that may be declared: the current one."""
    return timezone.localdate().replace(day=1)


def _decimal(value, field):
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(
            _("Not a number."), fields={field: [_("Enter an amount, e.g. 123456.78.")]}
        ) from None
    if not amount.is_finite():
        raise Invalid(_("Not a number."), fields={field: [_("Enter an amount, e.g. 123456.78.")]})
    return amount


def validate_figures(*, payroll_total, headcount, member_count):
    """The declared figures as Decimal/int, or a 400 naming every field that is wrong."""
    errors = {}
    try:
        payroll = _decimal(payroll_total, "payroll_total")
    except Invalid as exc:
        errors.update(exc.fields)
        payroll = None
    if payroll is not None:
        if payroll <= 0:
            errors["payroll_total"] = [_("Must be more than zero.")]
        elif payroll > MAX_PAYROLL:
            errors["payroll_total"] = [_("Implausibly large; check the figure.")]
        elif payroll != payroll.quantize(Decimal("0.01")):
            errors["payroll_total"] = [_("At most two decimal places.")]
    counts = {}
    for field, value in (("headcount", headcount), ("member_count", member_count)):
        if isinstance(value, bool) or not re.fullmatch(r"\d+", str(value).strip()):
            errors[field] = [_("A whole number, zero or more.")]
            continue
        counts[field] = int(str(value).strip())
        if counts[field] > MAX_HEADCOUNT:
            errors[field] = [_("Implausibly large; check the figure.")]
    if counts.get("headcount") == 0:
        errors["headcount"] = [_("A union that declares has at least one employee.")]
    if (
        "headcount" in counts
        and "member_count" in counts
        and counts["member_count"] > counts["headcount"]
    ):
        errors["member_count"] = [_("Cannot exceed the headcount.")]
    if errors:
        raise Invalid(_("The declaration is not valid."), fields=errors)
    return payroll, counts["headcount"], counts["member_count"]


def declarable_unions(user):
    """The grassroots unions the user may declare for on their own: those whose treasurer they
    are (`may_declare`). A bulk import is the only other way (`imports`)."""
    return [
        m.organization
        for m in memberships_of(user)
        if m.role == Role.TREASURER and m.organization.kind == OrganizationKind.GRASSROOTS
    ]


def check_may_declare(user):
    """403 unless the user is the treasurer of a grassroots union (DOMAIN.md C.1): what the
    declaration page and its button ask before offering the form."""
    if not declarable_unions(user):
        raise Forbidden(
            _(
                "Only the treasurer of a grassroots union declares its union fund, and you are "
                "not the treasurer of any grassroots union."
            ),
            code="not_a_treasurer",
        )


def union_for(user, organization_id=None):
    """The grassroots union the declaration is for: the given one, else the treasurer's own."""
    if organization_id is None:
        check_may_declare(user)
        unions = declarable_unions(user)
        if len(unions) != 1:
            raise Invalid(
                _("Say which union this declaration is for."),
                fields={"organization": [_("This field is required.")]},
            )
        return unions[0]
    org = Organization.objects.filter(pk=organization_id).first()
    if org is None or not (
        organization_in_reach(user, org)
        or any(m.organization_id == org.pk for m in memberships_of(user))
    ):
        raise Invalid(
            _("No such organization."), fields={"organization": [_("No such organization.")]}
        )
    if org.kind != OrganizationKind.GRASSROOTS:
        raise Invalid(
            _("Only a grassroots union declares."),
            fields={"organization": [_("Only a grassroots union declares.")]},
        )
    return org


def may_declare(user, union, *, bulk=False):
    """The union's treasurer; in a bulk import, a finance officer above the union (who submits
    it: the union's treasurer stays the declarant, `declarant_for`)."""
    if has_role(user, Role.TREASURER, union):
        return True
    return bulk and any(
        m.role == Role.FINANCE_OFFICER
        and union.path.startswith(m.organization.path)
        and union.path != m.organization.path
        for m in memberships_of(user)
    )


def compute(union, period, payroll):
    """Shares and due date with the rates in force for the union in that period."""
    fund_rate = parameter("remittance.fund_rate", organization=union, on=period)
    upper_rate = parameter("remittance.upper_share_rate", organization=union, on=period)
    figures = rules.shares(payroll, fund_rate=fund_rate, upper_share_rate=upper_rate)
    due_day = parameter("remittance.due_day", organization=union, on=period)
    return figures, fund_rate, upper_rate, rules.due_date(period, due_day=due_day)


def declarant_for(union):
    """The declarant of record of a declaration someone else submits (a bulk import): the
    union's treasurer — the case is the union's, and the parent's finance officer who imported
    it may still verify its payment (nobody acts on their own case). None without one."""
    return users_with_role(Role.TREASURER, union).order_by("pk").first()


def standing_originals(unions):
    """The regular declarations of `unions` a supplementary declaration (补缴) may correct: a
    retroactive correction of a period already declared, so one the chair has approved and
    that still stands (not rejected, not withdrawn). Newest period first."""
    approved = CaseTask.objects.filter(
        case=OuterRef("case"),
        flow_task__endswith=".chair_approval",
        flow_status=STATUS.DONE,
        decision=APPROVE,
    )
    return (
        Remittance.objects.filter(organization__in=unions, supplements__isnull=True, voided=False)
        .exclude(case__status__in=(CaseStatus.WITHDRAWN, CaseStatus.REJECTED))
        .filter(Exists(approved))
        .select_related("case", "organization")
        .order_by("-period", "organization__path")
    )


def open_supplement(original):
    """The supplementary declaration of `original` still in progress, if any."""
    return (
        Remittance.objects.filter(
            supplements=original, voided=False, case__status=CaseStatus.IN_PROGRESS
        )
        .select_related("case")
        .first()
    )


def has_standing_supplement(remittance):
    """Whether a supplementary declaration (in progress or closed) rests on this one: then it
    may not be withdrawn from under it."""
    return (
        Remittance.objects.filter(supplements=remittance, voided=False)
        .exclude(case__status__in=(CaseStatus.WITHDRAWN, CaseStatus.REJECTED))
        .exists()
    )


def _original(union, period, supplements_id):
    """The declaration a supplement corrects, its case row locked: a withdrawal of the
    original (which locks it too) and a second supplement wait for this declaration, then
    see it."""
    wrong = Invalid(
        _("Not a declaration of this union for this period."),
        fields={"supplements": [_("Not a declaration of this union for this period.")]},
    )
    if isinstance(supplements_id, bool) or not 1 <= int(supplements_id) <= MAX_ID:
        raise wrong
    case = Case.objects.select_for_update().filter(pk=supplements_id).first()
    original = (
        Remittance.objects.select_related("case")
        .filter(pk=supplements_id, organization=union, supplements__isnull=True)
        .first()
    )
    if case is None or original is None or original.period != period:
        raise wrong
    if not standing_originals([union]).filter(pk=original.pk).exists():
        message = _(
            "A supplementary declaration corrects a declaration the chair has approved and "
            "that still stands; %(number)s is not one."
        ) % {"number": case.number}
        raise Conflict(message, code="original_not_standing", fields={"supplements": [message]})
    pending = open_supplement(original)
    if pending is not None:
        message = _(
            "%(number)s, a supplementary declaration of the same declaration, is still in "
            "progress; wait for it to finish, or withdraw it."
        ) % {"number": pending.case.number}
        raise Conflict(message, code="supplement_in_progress", fields={"supplements": [message]})
    return original


@memo.operation()
def declare(
    *,
    user,
    period,
    payroll_total,
    headcount,
    member_count,
    organization=None,
    supplements=None,
    bulk=False,
):
    """Declare a union's payroll for a month (or a supplementary 补缴 declaration for a period
    already declared) and start its approval."""
    union = union_for(user, organization)
    if not may_declare(user, union, bulk=bulk):
        raise Forbidden(_("Only the union's treasurer may declare its fees."))
    applicant = user if has_role(user, Role.TREASURER, union) else declarant_for(union)
    if applicant is None:
        raise Invalid(
            _("%(union)s has no treasurer to declare for.") % {"union": union.name},
            fields={"organization": [_("This union has no treasurer.")]},
        )
    period = parse_period(period)
    payroll, headcount, member_count = validate_figures(
        payroll_total=payroll_total, headcount=headcount, member_count=member_count
    )
    figures, fund_rate, upper_rate, due = compute(union, period, payroll)
    try:
        with transaction.atomic():
            original = _original(union, period, supplements) if supplements else None
            if (
                original is None
                and Remittance.objects.filter(
                    organization=union, period=period, supplements__isnull=True, voided=False
                ).exists()
            ):
                raise Conflict(
                    _(
                        "%(union)s has already declared %(period)s; file a supplementary declaration instead."
                    )
                    % {"union": union.name, "period": f"{period:%Y-%m}"},
                    code="already_declared",
                )

            def record(case):
                return Remittance.objects.create(
                    case=case,
                    organization=union,
                    period=period,
                    supplements=original,
                    payroll_total=payroll,
                    headcount=headcount,
                    member_count=member_count,
                    fund_rate=fund_rate,
                    upper_share_rate=upper_rate,
                    fund_due=figures.fund_due,
                    upper_share=figures.upper_share,
                    retained_share=figures.retained_share,
                    due_date=due,
                )

            title = site_text(
                gettext_lazy("Union fund %(period)s, %(union)s"),
                {"period": f"{period:%Y-%m}", "union": union.name},
            )
            if original is not None:
                title = site_text(gettext_lazy("Supplementary: %(title)s"), {"title": title})
            return submit_case(
                process="remittance",
                organization=union,
                applicant=applicant,
                submitted_by=user,
                title=title,
                amount=figures.upper_share,
                data={
                    "period": f"{period:%Y-%m}",
                    "payroll_total": payroll,
                    "supplements": supplements,
                },
                record=record,
            )
    except IntegrityError:
        # A concurrent declaration of the same period committed first.
        raise Conflict(
            _("%(union)s has already declared %(period)s.")
            % {"union": union.name, "period": f"{period:%Y-%m}"},
            code="already_declared",
        ) from None


def check_payment(case, values):
    """What is wrong with a payment about to be recorded, {field: [message]}: nothing paid of
    an upper share that is due, or paid before the declared month began."""
    remittance = case.remittance
    errors = {}
    amount = values.get("paid_amount")
    if amount is not None and Decimal(amount) <= 0 < remittance.upper_share:
        errors["data.paid_amount"] = [
            _("Record an amount paid; %(due)s is due.") % {"due": remittance.upper_share}
        ]
    paid_on = values.get("paid_on")
    if paid_on and date.fromisoformat(str(paid_on)) < remittance.period:
        errors["data.paid_on"] = [
            _("Cannot be before the declared month (%(period)s) began.")
            % {"period": f"{remittance.period:%Y-%m}"}
        ]
    return errors


def record_payment(case, values):
    remittance = Remittance.objects.select_for_update().get(case=case)
    remittance.paid_amount = Decimal(values["paid_amount"])
    remittance.paid_on = date.fromisoformat(values["paid_on"])
    remittance.bank_reference = values["bank_reference"].strip()
    remittance.save(update_fields=["paid_amount", "paid_on", "bank_reference"])


def confirm_receipt(case):
    """Verified: the late fee, if any, is computed now, from the day paid."""
    remittance = Remittance.objects.select_for_update().get(case=case)
    days, remittance.late_fee = selectors.late_fee(remittance)
    remittance.days_late = days
    remittance.verified_at = timezone.now()
    remittance.save(update_fields=["days_late", "late_fee", "verified_at"])
    trail.append(
        case,
        "remittance.verified",
        data={
            "days_late": days,
            "late_fee": remittance.late_fee,
            "paid_amount": remittance.paid_amount,
            # What was due, so the trail shows an underpayment confirmed as such.
            "upper_share": remittance.upper_share,
        },
    )


def return_payment(case):
    """The finance officer sent the payment back (an amount mismatch …): it is no longer the
    payment of this declaration. The trail keeps what was recorded (the payment step's event)
    and the return (the verification's, with its reason); the declaration is unpaid again —
    reminded, late once past due, counted unpaid — until a payment is recorded anew."""
    remittance = Remittance.objects.select_for_update().get(case=case)
    remittance.paid_amount = remittance.paid_on = None
    remittance.bank_reference = ""
    remittance.save(update_fields=["paid_amount", "paid_on", "bank_reference"])


def may_withdraw(case):
    """Until the payment is recorded (a returned one no longer is), and not while a
    supplementary declaration rests on it (it would correct a declaration that is gone)."""
    remittance = case.remittance
    return remittance.paid_on is None and not has_standing_supplement(remittance)


def void(case):
    """A rejected or withdrawn declaration gives its period back."""
    Remittance.objects.filter(case=case).update(voided=True)


def union_officers(union):
    return list(
        User.objects.filter(
            memberships__organization=union,
            memberships__role__in=(Role.TREASURER, Role.CHAIR),
            is_active=True,
        ).distinct()
    )


def tell_union(task, decision):
    """Treasurer and chair hear of every decision on their declaration (the applicant is told by
    the approval service already, and the person deciding needs no message)."""
    case = task.case
    recipients = [
        u
        for u in union_officers(case.organization)
        if u.pk not in (case.applicant_id, task.completed_by_id)
    ]
    notify(
        event=f"task:{task.pk}:union",
        recipients=recipients,
        verb="remittance_step",
        title=deferred(
            gettext_lazy("%(step)s: %(decision)s (%(number)s)"),
            {
                "step": task.flow_task.task_title,
                "decision": DECISION_LABELS.get(decision, decision),
                "number": case.number,
            },
        ),
        body=task.comment,
        case=case,
        data={"task": task.pk, "decision": decision},
    )
