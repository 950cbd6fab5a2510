"""The rules of mediation that do not write: periods and deadlines from the configured
parameters, and the checks behind each step (what a decision needs beyond field types).
Checks return {field: [messages]} so that a bad input is a 400 naming its fields."""

import re
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from approvals.calendar import end_of_day, local_date
from approvals.spec import REJECT
from cases.identifiers import InvalidResidentId, resident_id
from core import memo
from core.config import parameter
from organizations.models import Role
from organizations.selectors import has_role, memberships_of

from .models import (
    OFFERED_DECLINE_REASONS,
    MediationCase,
    MediatorConflict,
    Outcome,
    Party,
    Performance,
    Recusal,
    RecusalStatus,
)

AGREEMENT_FIELDS = ("terms", "amount", "performance_deadline", "performance_method")


def _int(key, organization, on):
    return int(parameter(key, organization=organization, on=on))


def statutory_deadline(received_at, organization):
    """Art. 14: the end of the 15th calendar day after the day of receipt (configurable)."""
    received = local_date(received_at)
    days = _int("mediation.statutory_days", organization, received)
    return end_of_day(received + timedelta(days=days))


def deadline_reminder_at(deadline, organization):
    """When to remind the room of the statutory deadline (calendar days before it); None when
    reminders are switched off (0)."""
    days = _int("mediation.deadline_reminder_days", organization, local_date(deadline))
    return deadline - timedelta(days=days) if days > 0 else None


def limitation_months(organization, on):
    return _int("mediation.limitation_months", organization, on)


def limitation_ends(known_on, months):
    """The last day of a limitation period of `months` from `known_on`: the same calendar day
    that many months later, or the last day of that month when it has none (29 Feb → 28 Feb),
    as 民法典 Art. 202 counts periods in years and months."""
    return known_on + relativedelta(months=months)


def past_limitation(known_on, received_at, organization):
    """Art. 27: applied after the limitation period (one year) from the day the worker knew
    of the infringement ran out. Flagged for the mediator; it does not block acceptance."""
    received = local_date(received_at)
    return received > limitation_ends(known_on, limitation_months(organization, received))


def arbitral_review_until(effective_at, organization):
    """Last day the parties may jointly apply for arbitral review of the agreement."""
    effective = local_date(effective_at)
    return effective + timedelta(
        days=_int("mediation.arbitral_review_days", organization, effective)
    )


def collective_min_workers(organization):
    return _int("mediation.collective_min_workers", organization, timezone.localdate())


# --- the application ----------------------------------------------------------------------

# A mainland mobile number has 11 digits, a landline with its area code 10 to 12; 7 is the
# shortest local number. Spaces, + and - may separate them.
PHONE_MIN_DIGITS = 7
_PHONE_SHAPE = re.compile(r"^[0-9+\- ]{1,20}$")


def phone_problem(value):
    """Why `value` is not a phone number, or None."""
    value = (value or "").strip()
    if not _PHONE_SHAPE.match(value) or sum(c.isdigit() for c in value) < PHONE_MIN_DIGITS:
        return _(
            "Give a phone number of at least %(n)s digits (a mobile number, or a landline "
            "with its area code); spaces, + and - may separate them."
        ) % {"n": PHONE_MIN_DIGITS}
    return None


def serves(room, user):
    """Whether the mediation room (an organization with a mediation committee) serves `user`:
    they are a member of a union within it. A member files only with such a room, and only such
    a member can be the worker a mediator names when recording an application."""
    return any(
        m.role == Role.MEMBER and m.organization.path.startswith(room.path)
        for m in memberships_of(user)
    )


def same_name(a, b):
    """Names compared as people write them: spaces (full- or half-width) do not count."""
    return "".join((a or "").split()) == "".join((b or "").split())


def application_errors(values, organization):
    """Rules on an application beyond field types; normalizes identifiers in `values`."""
    errors = {}
    try:
        values["applicant_id_number"] = resident_id(values["applicant_id_number"])
    except InvalidResidentId as exc:
        errors["applicant_id_number"] = [str(exc)]
    try:
        values["employer_credit_code"] = uscc.validate(values["employer_credit_code"])
    except StdnumError:
        errors["employer_credit_code"] = [_("Not a valid unified social credit code.")]
    if values["known_on"] > timezone.localdate():
        errors["known_on"] = [_("Cannot be in the future.")]
    if values["claim_amount"] < 0:
        errors["claim_amount"] = [_("Cannot be negative.")]
    problem = phone_problem(values["applicant_phone"])
    if problem:
        errors["applicant_phone"] = [problem]
    errors.update(_representative_errors(values, organization))
    return errors


def _representative_errors(values, organization):
    """Ten or more workers with a common claim act through elected representatives
    (Art. 7); representatives stand only for such a collective case."""
    minimum = collective_min_workers(organization)
    workers = values.get("worker_count") or 1
    representatives = values.get("representatives") or []
    if workers >= minimum and not representatives:
        return {
            "representatives": [
                _("%(n)s or more workers act through elected representatives: name them.")
                % {"n": minimum}
            ]
        }
    if representatives and workers < minimum:
        return {
            "representatives": [
                _("Representatives act for a collective case of %(n)s or more workers.")
                % {"n": minimum}
            ]
        }
    if len(representatives) > workers:
        return {"representatives": [_("More representatives than workers.")]}
    names = [r["name"].strip() for r in representatives]
    if len(set(names)) != len(names):
        return {"representatives": [_("Each representative once.")]}
    for r in representatives:
        phone = (r.get("phone") or "").strip()
        problem = phone and phone_problem(phone)
        if problem:
            return {"representatives": [f"{r['name'].strip()}: {problem}"]}
    return {}


# --- the steps ----------------------------------------------------------------------------


def record_key(case_id):
    return ("mediation_record", case_id)


def record_of(case, *, missing_ok=False):
    """The case's mediation record (调解案件), with its mediator. Inside an operation (core.memo)
    one instance, read once and locked: the checks and steps of a decision read it several
    times and change it only through it, so each sees what an earlier one changed. Outside one
    it is read afresh on every call. `missing_ok`: None for a case without one yet."""
    # Unlike other remembered values this one is changed in place, on purpose: it is the
    # operation's copy of a row only this transaction writes (its process is locked).
    key = record_key(case.pk)
    record = memo.remembered(key, lambda: _read_record(case.pk))
    if record is None:
        memo.forget(key)  # not yet written: a later read in the operation looks again
        if not missing_ok:
            raise MediationCase.DoesNotExist(f"no mediation record for case {case.pk}")
    return record


def _read_record(case_id):
    records = MediationCase.objects.select_related("mediator").filter(case_id=case_id)
    if memo.active() and transaction.get_connection().in_atomic_block:
        records = records.select_for_update(of=("self",))  # an operation's: it may change it
    return records.first()


def check_acceptance(case, decision, values):
    reason = values.get("decline_reason")
    text = (values.get("decline_text") or "").strip()
    if decision == REJECT:
        accepted_at = record_of(case).accepted_at
        if accepted_at is not None:
            # Sent back to acceptance after it was accepted: the case is in mediation, and
            # cannot end both accepted and declined.
            return {
                "decision": [
                    _("The application was accepted on %(date)s: it can no longer be declined.")
                    % {"date": local_date(accepted_at).isoformat()}
                ]
            }
        if not reason:
            return {"data.decline_reason": [_("Say why the application is declined.")]}
        if reason not in OFFERED_DECLINE_REASONS:
            # DOMAIN.md B.2: not a labor dispute, before arbitration or a court, or the
            # respondent refuses; "other" is kept for earlier records only.
            return {"data.decline_reason": [_("Not a reason to decline an application.")]}
        return {}
    if reason or text:
        return {"data.decline_reason": [_("Only when declining.")]}
    return {}


def is_worker(user, case, record):
    """Whether `user` is the worker party's own account: the case's applicant — unless that is
    the mediator who recorded the application without naming the worker's account."""
    if user is None or user.pk != case.applicant_id:
        return False
    return not (record.recorded_on_behalf and case.applicant_id == case.submitted_by_id)


def mediator_problem(case, record, user):
    """Why `user` cannot mediate this case, or None."""
    if not has_role(user, Role.MEDIATOR, case.organization):
        return _("Not a mediator of %(org)s.") % {"org": case.organization.name}
    if is_worker(user, case, record):
        return _("A worker cannot mediate their own dispute.")
    if MediatorConflict.objects.filter(
        mediator=user, employer_credit_code=record.employer_credit_code
    ).exists():
        return _("This mediator has a recorded conflict of interest with the employer.")
    if Recusal.objects.filter(case=case, mediator=user, status=RecusalStatus.GRANTED).exists():
        return _("This mediator has been recused from this case.")
    return None


def active_user(username):
    """The active user of that name, or None; read once per operation (the check of an
    assignment and its record both need the mediator)."""
    from organizations.models import User

    return memo.remembered(
        ("active_user", username),
        lambda: User.objects.filter(username=username, is_active=True).first(),
    )


def check_assignment(case, values):
    user = active_user(values.get("mediator"))
    if user is None:
        return {"data.mediator": [_("No active user with this name.")]}
    problem = mediator_problem(case, record_of(case), user)
    return {"data.mediator": [problem]} if problem else {}


def pending_recusal(case):
    return Recusal.objects.filter(case=case, status=RecusalStatus.PENDING).first()


def check_outcome(case, values):
    record = record_of(case)
    errors = {}
    if not record.sessions:
        errors["sessions"] = [_("Record at least one session before the outcome.")]
    if pending_recusal(case) is not None:
        errors["recusal"] = [_("A recusal request is pending: the mediation head decides first.")]
    if values.get("outcome") == Outcome.AGREEMENT:
        for name in AGREEMENT_FIELDS:
            if values.get(name) in (None, ""):
                errors[f"data.{name}"] = [_("Required for an agreement.")]
        deadline = values.get("performance_deadline")
        if deadline and date.fromisoformat(deadline) < timezone.localdate():
            errors["data.performance_deadline"] = [_("Cannot be in the past.")]
    elif values.get("outcome") == Outcome.NO_AGREEMENT:
        for name in AGREEMENT_FIELDS:
            if values.get(name) not in (None, ""):
                errors[f"data.{name}"] = [_("Only with an agreement.")]
    return errors


def missing_signatures(record):
    return [p.value for p in Party if p.value not in record.signatures]


def party_names(parties):
    """Signature codes ("worker", "seal") as their names, listed for a message."""
    return pgettext("list separator", ", ").join(str(Party(p).label) for p in parties)


def check_signing(case):
    missing = missing_signatures(record_of(case))
    if missing:
        return {
            "signatures": [
                _("The agreement takes effect once signed and sealed; missing: %(parties)s.")
                % {"parties": party_names(missing)}
            ]
        }
    return {}


def check_performance(case, values):
    record = record_of(case)
    if (
        values.get("performance") == Performance.NOT_PERFORMED
        and timezone.localdate() <= record.performance_deadline
    ):
        return {
            "data.performance": [
                _("Non-performance can be recorded once the deadline (%(date)s) has passed.")
                % {"date": record.performance_deadline.isoformat()}
            ]
        }
    return {}


def parse_moment(value):
    """An aware time from a datetime (naive: local time)."""
    if isinstance(value, datetime) and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value
