"""Writes of the hardship process: submit an application, lodge an objection, what the flow's
steps record (approved figures, payment, the register), the public notices and the periodic
review of register entries. Each runs inside one transaction with its trail events and
notifications (flow callbacks run inside the engine's transaction)."""

import calendar as month_calendar
import logging
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.status import STATUS

from approvals import calendar
from approvals.models import CaseTask
from approvals.services import reroute
from approvals.spec import APPROVE, org_of_kind, parent_org
from cases import trail
from cases.models import Case, CaseStatus
from cases.selectors import case_in_reach
from cases.services import allocate_number, submit_case
from core import memo, statements
from core.config import parameter
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.i18n import deferred, site_text
from core.locks import lock_names
from core.sensitive import blind_index, mask
from notifications.services import notify
from organizations.models import Membership, Role, User
from organizations.selectors import has_role, member_union, memberships_of

from . import eligibility
from .models import (
    NOTICE_AID_TYPES,
    AidType,
    ApprovalLevel,
    Category,
    HardshipApplication,
    Kind,
    Objection,
    RegisterEntry,
    RegisterStatus,
    ReviewConclusion,
)

logger = logging.getLogger(__name__)

PROCESS = "hardship"
RIC = "ric"  # blind-index scope of resident ID numbers


def record_of(case):
    """The case's hardship record. Inside an operation (core.memo) one instance, read once:
    the steps of a decision read it several times and change it only through it, so each sees
    what an earlier one changed. Outside one it is read afresh on every call."""
    # Unlike other remembered values this one is changed in place, on purpose: it is the
    # operation's copy of a row only this transaction writes (its process is locked).
    return memo.remembered(("hardship_record", case.pk), lambda: _read_record(case.pk))


def _record_read(case_id):
    return HardshipApplication.objects.select_related("case").filter(case_id=case_id)


def _read_record(case_id):
    found = statements.rows("hardship_record", _record_read, case_id)
    if not found:
        raise HardshipApplication.DoesNotExist(f"no hardship record for case {case_id}")
    return found[0]


def _today():
    return timezone.localdate()


def add_months(day, months):
    """The same day `months` later (the last day of the month when it has fewer days)."""
    index = day.month - 1 + int(months)
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def _money(value):
    return None if value in (None, "") else Decimal(str(value))


# --- Submission -------------------------------------------------------------------------------


def _applicant_and_union(user, on_behalf_of):
    """Who applies and in which union: the caller in their own union, or a member of the union
    the caller chairs (`on_behalf_of`)."""
    if not on_behalf_of or on_behalf_of == user.username:
        union = member_union(user)
        if union is None:
            raise Forbidden(_("Only members of a union may apply for aid."))
        return user, union
    chaired = [m.organization for m in memberships_of(user) if m.role == Role.CHAIR]
    if not chaired:
        raise Forbidden(_("Only a union chair may submit an application on a member's behalf."))
    applicant = User.objects.filter(username=on_behalf_of, is_active=True).first()
    if applicant is None:
        raise Invalid(
            _("No such member."), fields={"on_behalf_of": [_("No active user with this name.")]}
        )
    for union in chaired:
        if Membership.objects.filter(user=applicant, organization=union, role=Role.MEMBER).exists():
            return applicant, union
    raise Forbidden(_("You may submit applications only for members of the union you chair."))


def _duplicate(user, message, existing, code):
    """409, naming the existing case when the caller may see it."""
    if existing is not None and case_in_reach(user, existing.pk) is not None:
        message = _("%(message)s Case: %(number)s.") % {
            "message": message,
            "number": existing.number,
        }
    raise Conflict(message, code=code)


def _check_duplicates(user, applicant, aid_type, id_index, child_index, today):
    same_person = Q(id_index=id_index) | Q(case__applicant=applicant)
    open_case = (
        HardshipApplication.objects.filter(same_person, aid_type=aid_type)
        .filter(case__status=CaseStatus.IN_PROGRESS)
        .select_related("case")
        .first()
    )
    if open_case is not None:
        _duplicate(
            user,
            _("This person already has an open application of this aid type."),
            open_case.case,
            "duplicate_open_application",
        )
    if aid_type == AidType.FILE:
        entry = RegisterEntry.objects.filter(
            Q(id_index=id_index) | Q(member=applicant), status=RegisterStatus.ACTIVE
        ).first()
        if entry is not None:
            _duplicate(
                user,
                _("This person is already in the hardship register."),
                entry.source_case,
                "already_registered",
            )
    if aid_type == AidType.EDUCATION:
        # Once per child per year: an application rejected or withdrawn does not count.
        earlier = (
            HardshipApplication.objects.filter(
                aid_type=AidType.EDUCATION, child_index=child_index, submitted_on__year=today.year
            )
            .exclude(case__status__in=(CaseStatus.REJECTED, CaseStatus.WITHDRAWN))
            .select_related("case")
            .first()
        )
        if earlier is not None:
            _duplicate(
                user,
                _("Education aid for this child was already applied for this year."),
                earlier.case,
                "education_once_per_year",
            )


def _duplicate_lock_names(aid_type, id_index, child_index, today):
    """The names `_check_duplicates` looks up by, to lock (core.locks) before it does."""
    names = [f"hardship-id:{id_index}"]
    if aid_type == AidType.EDUCATION and child_index:
        names.append(f"hardship-child:{child_index}:{today.year}")
    return names


@memo.operation()
def submit_application(
    *,
    user,
    aid_type,
    id_number,
    household_size,
    annual_income,
    rigid_expenses,
    requested_amount,
    reason,
    accident_or_illness=False,
    hardship_costs=None,
    child_name="",
    child_id_number="",
    on_behalf_of="",
):
    """Submit an aid application (validated input: the API serializer checks types, ranges and
    ID numbers). Computes the eligibility with the living standard of the union on this date,
    refuses duplicates (409) and starts the flow."""
    applicant, union = _applicant_and_union(user, on_behalf_of)
    today = _today()
    rules = eligibility.Rules.for_organization(union, today)
    result = eligibility.assess(
        annual_income=annual_income,
        rigid_expenses=rigid_expenses,
        household_size=household_size,
        rules=rules,
        accident_or_illness=accident_or_illness,
        hardship_costs=hardship_costs,
    )
    id_index = blind_index(id_number, scope=RIC)
    child_index = blind_index(child_id_number, scope=RIC) if child_id_number else ""
    record_fields = {
        "kind": Kind.APPLICATION,
        "aid_type": aid_type,
        "id_number": id_number,
        "id_index": id_index,
        "household_size": household_size,
        "annual_income": annual_income,
        "rigid_expenses": rigid_expenses,
        "accident_or_illness": accident_or_illness,
        "hardship_costs": hardship_costs,
        "requested_amount": requested_amount,
        "reason": reason,
        "child_name": child_name or "",
        "child_id_number": child_id_number or "",
        "child_index": child_index,
        "submitted_on": today,
        "living_standard": result.living_standard,
        "per_capita_income": result.per_capita_income,
        "proposed_category": result.category,
    }
    # What the trail keeps of the application: figures and masked identifiers only.
    story = {
        "aid_type": aid_type,
        "id_number": mask(id_number),
        "household_size": household_size,
        "annual_income": annual_income,
        "rigid_expenses": rigid_expenses,
        "accident_or_illness": accident_or_illness,
        "hardship_costs": hardship_costs,
        "requested_amount": requested_amount,
        "per_capita_income": result.per_capita_income,
        "living_standard": result.living_standard,
        "proposed_category": result.category,
        "reason": reason,
    }
    if child_id_number:
        story.update(child_name=child_name, child_id_number=mask(child_id_number))
    title = site_text(
        gettext_lazy("%(aid_type)s: %(name)s"),
        {"aid_type": AidType(aid_type).label, "name": applicant.display_name},
    )
    with transaction.atomic():
        # One person's submissions queue here, so two at once cannot both pass the checks.
        User.objects.select_for_update().filter(pk=applicant.pk).values_list("pk").get()
        # Checks keyed by identifiers that several accounts may give (two parents, one child;
        # two accounts with one resident ID) queue on those identifiers.
        lock_names(*_duplicate_lock_names(aid_type, id_index, child_index, today))
        _check_duplicates(user, applicant, aid_type, id_index, child_index, today)
        case = submit_case(
            process=PROCESS,
            organization=union,
            applicant=applicant,
            submitted_by=user,
            title=title[:200],
            amount=requested_amount,
            data=story,
            record=lambda case: HardshipApplication.objects.create(case=case, **record_fields),
        )
        if applicant.pk != user.pk:
            notify(
                event=f"case:{case.pk}:submitted_for_applicant",
                recipients=[applicant],
                verb="hardship_submitted_for_you",
                title=deferred(
                    gettext_lazy("%(chair)s submitted an aid application for you (%(number)s)"),
                    {"chair": user.display_name, "number": case.number},
                ),
                case=case,
                data={"submitted_by": user.username},
            )
    return case


# --- Steps: checks (validate) and records (on_complete) ----------------------------------------


def check_investigation(task, decision, values, comment):
    """A home visit is in the past, and not before the application."""
    visit = values.get("visit_date")
    if not visit:
        return {}
    visit = date.fromisoformat(visit)
    record = record_of(task.case)
    if visit > _today():
        return {"data.visit_date": [_("The visit date cannot be in the future.")]}
    if visit < record.submitted_on:
        return {"data.visit_date": [_("The visit date cannot be before the application.")]}
    return {}


def _proposal(record, values):
    amount = _money(values.get("approved_amount"))
    category = values.get("category") or ""
    return (
        amount if amount is not None else record.current_amount,
        category or record.current_category,
    )


def check_approval(task, decision, values, comment):
    """Approving a different amount or category than the one before this level (requested and
    proposed, or what the level below approved) needs a reason; a case proposed as not
    eligible is approved under a category the officer names."""
    if decision != APPROVE:
        return {}
    record = record_of(task.case)
    amount, category = _proposal(record, values)
    errors = {}
    if category == Category.INELIGIBLE:
        errors["data.category"] = [
            _(
                "The case was assessed as not eligible: name the category the aid is approved "
                "under, and give the reason."
            )
        ]
    if (amount, category) != (record.current_amount, record.current_category) and not comment:
        errors["comment"] = [
            _("Give the reason for approving a different amount or category than proposed.")
        ]
    return errors


LEVEL_OF_STEP = {"town_review": ApprovalLevel.TOWN, "county_approval": ApprovalLevel.COUNTY}


def record_approval(task, decision, values):
    """The approved amount and category, and at which level; a change is its own trail event
    with the officer's reason."""
    if decision != APPROVE:
        return
    record = record_of(task.case)
    amount, category = _proposal(record, values)
    before = {"amount": record.current_amount, "category": record.current_category}
    record.approved_amount = amount
    record.approved_category = category
    record.approval_level = LEVEL_OF_STEP[task.flow_task.name]
    record.save(update_fields=["approved_amount", "approved_category", "approval_level"])
    if (amount, category) != (before["amount"], before["category"]):
        trail.append(
            task.case,
            "hardship.figures_changed",
            actor=task.completed_by,
            actor_role=task.candidate_role,
            on_behalf_of=task.on_behalf_of,
            task=task,
            comment=task.comment,
            data={
                "amount": {"from": before["amount"], "to": amount},
                "category": {"from": before["category"], "to": category},
            },
        )


# Sanity bounds of a bank account number (a card has 16–19 digits, a passbook account a few
# more or less): catching typos, not policy.
ACCOUNT_DIGITS = (12, 30)
ACCOUNT = "bank_account"  # blind-index scope of account numbers


def _name(value):
    """A name as compared: without any white space ("张 三" is 张三)."""
    return "".join((value or "").split())


def _check_account(record, values):
    """实名制: the aid goes to the applicant's own account — held in their registered name, and
    not one that received aid for another person. Returns (errors, normalized number)."""
    errors = {}
    holder = values.get("account_holder")
    if holder:
        registered = _name(record.case.applicant.full_name)
        if not registered:
            errors["data.account_holder"] = [
                _(
                    "The applicant has no registered full name to check the account against: "
                    "have it entered in their user account first."
                )
            ]
        elif _name(holder) != registered:
            errors["data.account_holder"] = [
                _("Aid is paid only into the applicant's own account: the holder must be %(name)s.")
                % {"name": record.case.applicant.full_name}
            ]
    number = values.get("account_number")
    if number:
        number = "".join(number.replace("-", " ").split())
        low, high = ACCOUNT_DIGITS
        if not number.isdigit() or not low <= len(number) <= high:
            errors["data.account_number"] = [
                _("An account number is %(low)s to %(high)s digits.") % {"low": low, "high": high}
            ]
        elif (
            HardshipApplication.objects.filter(account_index=blind_index(number, scope=ACCOUNT))
            .exclude(case__applicant=record.case.applicant)
            .exclude(id_index=record.id_index)
            .exists()
        ):
            errors["data.account_number"] = [
                _(
                    "This account received aid paid to another person; aid is paid only into "
                    "the applicant's own account."
                )
            ]
    return errors, number


def check_disbursement(task, decision, values, comment):
    record = record_of(task.case)
    errors = {}
    amount = _money(values.get("amount"))
    if amount is not None and record.current_amount is not None and amount > record.current_amount:
        errors["data.amount"] = [
            _("At most the approved amount, %(amount)s.") % {"amount": record.current_amount}
        ]
    paid_on = values.get("paid_on")
    if paid_on:
        paid_on = date.fromisoformat(paid_on)
        if paid_on > _today():
            errors["data.paid_on"] = [_("The payment date cannot be in the future.")]
        elif paid_on < record.submitted_on:
            errors["data.paid_on"] = [_("The payment date cannot be before the application.")]
    account_errors, number = _check_account(record, values)
    errors.update(account_errors)
    if number:
        # As recorded: digits only. The step declares the field sensitive, so the task data
        # and the trail keep it masked; record_disbursement gets it whole.
        values["account_number"] = number
    return errors


def record_disbursement(task, decision, values):
    """Record the payment and the account paid into, tell the applicant, and enter a `file`
    case in the register."""
    record = record_of(task.case)
    case = task.case
    number = values.get("account_number") or ""
    record.disbursed_amount = _money(values["amount"])
    record.disbursed_on = date.fromisoformat(values["paid_on"])
    record.payment_reference = values["payment_reference"].strip()
    record.account_holder = (values.get("account_holder") or "").strip()
    record.account_number = number
    record.account_index = blind_index(number, scope=ACCOUNT) if number else ""
    record.save(
        update_fields=[
            "disbursed_amount",
            "disbursed_on",
            "payment_reference",
            "account_holder",
            "account_number",
            "account_index",
        ]
    )
    if record.aid_type == AidType.FILE:
        enter_register(record, task=task)
    notify(
        event=f"case:{case.pk}:disbursed",
        recipients=[case.applicant, case.submitted_by],
        verb="hardship_disbursed",
        title=deferred(
            gettext_lazy("Aid of %(amount)s paid on %(date)s (%(number)s)"),
            {
                "amount": record.disbursed_amount,
                "date": record.disbursed_on.isoformat(),
                "number": case.number,
            },
        ),
        body=deferred(
            gettext_lazy("Payment reference: %(reference)s"),
            {"reference": record.payment_reference},
        ),
        case=case,
        data={
            "amount": str(record.disbursed_amount),
            "paid_on": record.disbursed_on.isoformat(),
            "reference": record.payment_reference,
            "account": record.masked_account_number,
        },
    )


def disbursing_organization(case):
    """The finance office of the level that approved: the county after a county approval,
    else the town."""
    if record_of(case).approval_level == ApprovalLevel.COUNTY:
        return org_of_kind("county")(case)
    return parent_org(case)


def county_approval_needed(case):
    """Above the configured threshold (the requested amount, or a higher one approved below),
    or entering the register."""
    record = record_of(case)
    if record.aid_type == AidType.FILE:
        return True
    threshold = parameter(
        "hardship.county_threshold", organization=case.organization, on=record.submitted_on
    )
    amounts = [a for a in (record.requested_amount, record.approved_amount) if a is not None]
    return bool(amounts) and max(amounts) > threshold


county_approval_needed.reason = "amount at or below the county threshold and not a register case"


# --- Public notices (公示) ----------------------------------------------------------------------


def public_notice_needed(case):
    """File, education and medical aid are publicly noticed; the skip of the others is told
    in the trail."""
    record = record_of(case)
    if record.aid_type in NOTICE_AID_TYPES:
        return True
    trail.append(
        case,
        "step.skipped",
        step="public_notice",
        data={"reason": f"no public notice for {record.aid_type} aid"},
    )
    return False


def start_notice(case, *, parameter_key, step):
    """A notice of `parameter_key` working days starts now: its end is stored on the record
    (shown in the case JSON), told to the applicant and returned for the timer."""
    record = record_of(case)
    days = int(parameter(parameter_key, organization=case.organization))
    now = timezone.now()
    if days < 1:
        ends_at = now
    else:
        ends_at = calendar.end_of_day(calendar.add_working_days(calendar.local_date(now), days))
    record.notice_ends_at = ends_at
    record.save(update_fields=["notice_ends_at"])
    exit_notice = step == "exit_notice"
    trail.append(
        case,
        "hardship.exit_notice_started" if exit_notice else "hardship.notice_started",
        step=step,
        data={"ends_at": ends_at, "working_days": days},
    )
    if exit_notice:
        title = gettext_lazy(
            "Your hardship register entry is proposed for closure; notice until %(end)s"
        )
    else:
        title = gettext_lazy("Your application %(number)s is on public notice until %(end)s")
    notify(
        event=f"case:{case.pk}:{step}:{ends_at:%Y%m%d%H%M%S}",
        recipients=[case.applicant, case.submitted_by],
        verb="hardship_exit_notice" if exit_notice else "hardship_notice",
        title=deferred(
            title,
            {
                "number": case.number,
                "end": calendar.local_date(ends_at).isoformat(),
            },
        ),
        case=case,
        data={"ends_at": ends_at.isoformat()},
    )
    return ends_at


# Of each kind of case: the flow's public-notice node, and where an objection lodged during
# it sends the case — an application back to the home investigation, a proposed closure of a
# register entry (退档) back to the register review.
NOTICE_STEP = {Kind.APPLICATION: "public_notice", Kind.REVIEW: "exit_notice"}
OBJECTION_RETURNS_TO = {Kind.APPLICATION: "investigation", Kind.REVIEW: "register_review"}


def lodge_objection(*, case_id, user, reason):
    """异议: a member of the applicant's union objects during the public notice (of an
    application, or of a proposed closure of a register entry); the notice stops and the case
    goes back to investigation, or to the register review. 404 for people with no business
    with the case, 403 for the applicant and officers who are not members, 409 outside the
    notice."""
    from workflows.base import flow_for

    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give a reason."), fields={"reason": [_("A reason is required.")]})
    case = Case.objects.filter(pk=case_id, process=PROCESS).select_related("organization").first()
    if case is None:
        raise NotFound(_("Case not found."))
    is_member = has_role(user, Role.MEMBER, case.organization)
    if not is_member and case_in_reach(user, case.pk) is None:
        raise NotFound(_("Case not found."))
    if user.pk in (case.applicant_id, case.submitted_by_id):
        raise Forbidden(_("The applicant cannot object to their own application."))
    if not is_member:
        raise Forbidden(_("Only members of the applicant's union may object."))
    flow_class = flow_for(PROCESS)
    with (
        memo.operation(),
        trail.acting(actor=user),
        transaction.atomic(),
        flow_class.lock(case.flow_process_id),
    ):
        case = Case.objects.select_related("applicant", "submitted_by").get(pk=case.pk)
        record = record_of(case)
        on_notice = CaseTask.objects.filter(
            case=case, flow_task__endswith=f".{NOTICE_STEP[record.kind]}", status=STATUS.SCHEDULED
        ).exists()
        now = timezone.now()
        if (
            case.status != CaseStatus.IN_PROGRESS
            or not on_notice
            or record.notice_ends_at is None
            or record.notice_ends_at <= now
        ):
            raise Conflict(
                _("Objections are accepted only during the public notice."),
                code="not_on_notice",
            )
        objection = Objection.objects.create(case=case, objector=user, reason=reason)
        ended = record.notice_ends_at
        record.notice_ends_at = None
        record.save(update_fields=["notice_ends_at"])
        reroute(
            case_id=case.pk,
            to_step=OBJECTION_RETURNS_TO[record.kind],
            actor=user,
            action="hardship.objection",
            comment=reason,
            data={"objection": objection.pk, "notice_ends_at": ended},
        )
        if record.is_review:
            title = gettext_lazy(
                "An objection was lodged during the notice of closing your hardship register "
                "entry (%(number)s); the entry is reviewed again"
            )
        else:
            title = gettext_lazy(
                "An objection was lodged during the public notice of %(number)s; "
                "the case goes back to investigation"
            )
        notify(
            event=f"case:{case.pk}:objection:{objection.pk}",
            recipients=[case.applicant, case.submitted_by],
            verb="hardship_objection",
            title=deferred(title, {"number": case.number}),
            body=reason,
            case=case,
            data={"objection": objection.pk},
        )
    return objection


# --- The register (档案) ------------------------------------------------------------------------


def review_months(category, organization):
    key = (
        "hardship.register_review_months_sudden"
        if category == Category.SUDDEN
        else "hardship.register_review_months"
    )
    return int(parameter(key, organization=organization))


def enter_register(record, *, task):
    """A disbursed `file` case enters its applicant in the register under the approved
    category, with the first review date."""
    case = record.case
    category = record.current_category
    started = _today()
    entry = RegisterEntry.objects.create(
        member=case.applicant,
        organization=case.organization,
        id_index=record.id_index,
        category=category,
        started_on=started,
        next_review_on=add_months(started, review_months(category, case.organization)),
        source_case=case,
    )
    record.register_entry = entry
    record.save(update_fields=["register_entry"])
    trail.append(
        case,
        "hardship.register_entered",
        task=task,
        data={
            "register_entry": entry.pk,
            "category": category,
            "started_on": entry.started_on,
            "next_review_on": entry.next_review_on,
        },
    )
    return entry


def _retain(record, *, task, category=None):
    """The entry stays; the next review is counted from today. The member is told so (after a
    review, or after the county refused a proposed closure)."""
    entry = RegisterEntry.objects.select_for_update().get(pk=record.register_entry_id)
    entry.category = category or entry.category
    entry.next_review_on = add_months(_today(), review_months(entry.category, entry.organization))
    entry.review_case = None
    entry.save(update_fields=["category", "next_review_on", "review_case"])
    trail.append(
        record.case,
        "hardship.register_retained",
        task=task,
        data={
            "register_entry": entry.pk,
            "category": entry.category,
            "next_review_on": entry.next_review_on,
        },
    )
    case = record.case
    notify(
        event=f"case:{case.pk}:register_retained:{task.pk}",
        recipients=[case.applicant],
        verb="hardship_register_retained",
        title=deferred(
            gettext_lazy(
                "Your hardship register entry stays (%(category)s); next review on %(date)s "
                "(%(number)s)"
            ),
            {
                "category": Category(entry.category).label,
                "date": entry.next_review_on.isoformat(),
                "number": case.number,
            },
        ),
        body=task.comment,
        case=case,
        data={
            "register_entry": entry.pk,
            "category": entry.category,
            "next_review_on": entry.next_review_on.isoformat(),
        },
    )


def check_review(task, decision, values, comment):
    record = record_of(task.case)
    conclusion = values.get("conclusion")
    if conclusion == ReviewConclusion.EXIT and not comment:
        return {"comment": [_("Give the reason for closing the register entry.")]}
    category = values.get("category")
    if (
        conclusion == ReviewConclusion.KEEP
        and category
        and category != record.register_entry.category
        and not comment
    ):
        return {"comment": [_("Give the reason for changing the category.")]}
    return {}


def record_review(task, decision, values):
    record = record_of(task.case)
    record.review_conclusion = values["conclusion"]
    record.save(update_fields=["review_conclusion"])
    if record.review_conclusion == ReviewConclusion.KEEP:
        _retain(record, task=task, category=values.get("category"))


def exit_proposed(case):
    return record_of(case).review_conclusion == ReviewConclusion.EXIT


def record_exit_decision(task, decision, values):
    """The county approves the closure (退档) or keeps the member in the register."""
    record = record_of(task.case)
    if decision != APPROVE:
        _retain(record, task=task)
        return
    entry = RegisterEntry.objects.select_for_update().get(pk=record.register_entry_id)
    entry.status = RegisterStatus.CLOSED
    entry.closed_on = _today()
    entry.closed_by_case = task.case
    entry.review_case = None
    entry.save(update_fields=["status", "closed_on", "closed_by_case", "review_case"])
    trail.append(
        task.case,
        "hardship.register_closed",
        task=task,
        data={"register_entry": entry.pk, "closed_on": entry.closed_on},
    )
    case = task.case
    notify(
        event=f"case:{case.pk}:register_closed",
        recipients=[case.applicant],
        verb="hardship_register_closed",
        title=deferred(
            gettext_lazy("Your hardship register entry was closed on %(date)s (%(number)s)"),
            {"date": entry.closed_on.isoformat(), "number": case.number},
        ),
        body=task.comment,
        case=case,
        data={"register_entry": entry.pk, "closed_on": entry.closed_on.isoformat()},
    )


def open_review_case(entry):
    """Open the review case of a due entry. The system opens it: no person submitted it, so the
    trail's first event has no actor (the member is the case's applicant)."""
    from workflows.base import flow_for

    flow_class = flow_for(PROCESS)
    source = HardshipApplication.objects.get(case_id=entry.source_case_id)
    today = _today()
    rules = eligibility.Rules.for_organization(entry.organization, today)
    result = eligibility.assess(
        annual_income=source.annual_income,
        rigid_expenses=source.rigid_expenses,
        household_size=source.household_size,
        rules=rules,
        accident_or_illness=source.accident_or_illness,
        hardship_costs=source.hardship_costs,
    )
    member = entry.member
    with memo.operation(), trail.acting(actor=None), transaction.atomic():
        case = Case.objects.create(
            number=allocate_number(flow_class.number_prefix),
            process=PROCESS,
            organization=entry.organization,
            applicant=member,
            submitted_by=member,
            title=site_text(
                gettext_lazy("Register review: %(name)s"), {"name": member.display_name}
            )[:200],
        )
        HardshipApplication.objects.create(
            case=case,
            kind=Kind.REVIEW,
            aid_type=AidType.FILE,
            id_number=source.id_number,
            id_index=source.id_index,
            household_size=source.household_size,
            annual_income=source.annual_income,
            rigid_expenses=source.rigid_expenses,
            accident_or_illness=source.accident_or_illness,
            hardship_costs=source.hardship_costs,
            reason=_("Periodic review of the hardship register entry."),
            submitted_on=today,
            living_standard=result.living_standard,
            per_capita_income=result.per_capita_income,
            proposed_category=result.category,
            register_entry=entry,
            review_due_on=entry.next_review_on,
        )
        trail.append(
            case,
            "case.opened",
            actor_role="system",
            data={
                "reason": "register_review_due",
                "register_entry": entry.pk,
                "due_on": entry.next_review_on,
                "category": entry.category,
                "source_case": entry.source_case_id,
            },
        )
        flow_class.start.run(case=case)
        notify(
            event=f"case:{case.pk}:review_opened",
            recipients=[member],
            verb="hardship_review_opened",
            title=deferred(
                gettext_lazy("Your hardship register entry is due for review (%(number)s)"),
                {"number": case.number},
            ),
            case=case,
            data={"register_entry": entry.pk},
        )
    return case


def open_due_reviews(today=None):
    """Open a review case for every active entry whose review date has come and that has no
    review open. Each entry is taken under a row lock (SKIP LOCKED: a concurrent run handles
    the others) and marked with its review case, so runs never open two. Returns the new case
    numbers."""
    today = today or _today()
    due = RegisterEntry.objects.filter(
        status=RegisterStatus.ACTIVE, review_case__isnull=True, next_review_on__lte=today
    ).values_list("pk", flat=True)
    opened = []
    for entry_id in list(due):
        try:
            with transaction.atomic():
                entry = (
                    RegisterEntry.objects.select_for_update(skip_locked=True)
                    .filter(
                        pk=entry_id,
                        status=RegisterStatus.ACTIVE,
                        review_case__isnull=True,
                        next_review_on__lte=today,
                    )
                    .first()
                )
                if entry is None:
                    continue
                case = open_review_case(entry)
                entry.review_case = case
                entry.save(update_fields=["review_case"])
                opened.append(case.number)
        except Exception:  # one broken entry must not stop the others
            logger.exception("Opening the review of register entry %s failed", entry_id)
    return opened
