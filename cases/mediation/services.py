"""Writes of labor-dispute mediation: the application, what each step records, sessions,
signatures, extensions of the term, recusal, a mediator who becomes unavailable, and the
periodic enforcement of the statutory term. Each runs in one transaction under the case's process lock, with its trail event and
notifications.

Who is told: the worker's side is the case's applicant and whoever recorded the application
(a mediator recording for a worker without an account is told, to hand over the written
notice); the employer has no account and receives the written notices on paper (the notice
PDF has a copy addressed to it, pdf.notice_pdf)."""

import datetime as dt
import logging
from contextlib import contextmanager
from decimal import Decimal

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.models import Process
from viewflow.workflow.status import STATUS

from approvals.calendar import end_of_day, local_date
from approvals.models import OPEN_STATUSES, ROUTING_TYPES, CaseTask
from approvals.selectors import step_ref
from approvals.spec import APPROVE, SUBMIT
from cases import trail
from cases.models import Case, CaseStatus
from cases.selectors import in_reach
from cases.services import submit_case
from core import memo, statements
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.i18n import deferred
from core.sensitive import blind_index
from core.statements import whole_number
from notifications.services import batched as notifications_batched
from notifications.services import notify
from organizations.models import Role, User
from organizations.selectors import has_role, memberships_of, users_with_role

from . import rules, selectors
from .models import (
    PAYMENT_ORDER_CATEGORIES,
    Channel,
    DeclineReason,
    MediationCase,
    Outcome,
    Party,
    Performance,
    Recusal,
    RecusalStatus,
)

logger = logging.getLogger(__name__)

PROCESS = "mediation"
PARTY_SIGNATURES = (Party.WORKER, Party.EMPLOYER, Party.MEDIATOR)


def _flow():
    from workflows.base import flow_for

    return flow_for(PROCESS)


def record_of(process):
    case = getattr(process, "_unionflow_case", None)  # the case the operation holds
    if case is not None:
        return record_of_case(case)
    return MediationCase.objects.get(case__flow_process_id=process.pk)


record_of_case = rules.record_of


def assigned_mediator(case):
    """The mediation, signing and performance steps go to the mediator chosen at assignment."""
    record = rules.record_of(case, missing_ok=True)
    return record.mediator if record else None


def notice_url(case, party=Party.WORKER):
    """The written notice: the worker's copy, or another party's (`?party=employer`)."""
    url = reverse("mediation-notice", kwargs={"pk": case.pk})
    return url if party == Party.WORKER else f"{url}?party={party}"


def _worker_side(case):
    return [case.applicant, case.submitted_by]


def _heads(case):
    return list(users_with_role(Role.MEDIATION_HEAD, case.organization))


def _local(moment):
    return local_date(moment).isoformat()


def _stamp(moment):
    """A time kept in the record's JSON: local, with its offset, as the API shows times."""
    return timezone.localtime(moment).isoformat()


def is_head(user, case):
    return has_role(user, Role.MEDIATION_HEAD, case.organization)


def _open_task(case, step):
    """The step's first open task on the case, with what its operations read."""
    found = statements.rows(
        "mediation_open_task", _open_task_read, case.pk, step_ref(getattr(_flow(), step))
    )
    return found[0] if found else None


def _open_task_read(case_id, step):
    return (
        CaseTask.objects.filter(
            case_id=case_id, flow_task_type="HUMAN", status__in=OPEN_STATUSES, flow_task=step
        )
        .select_related("case__organization", "case__applicant", "owner", "process")
        .order_by("pk")[:1]
    )


def acts_as_mediator(user, record, task=None):
    """The assigned mediator, or whoever holds the mediator's task for them (a delegate), while
    a mediator of the case's organization: one whose role there was taken away no longer acts
    (within the minute the beat sends the case back to the head, `mediator_unavailable`)."""
    holds = user.pk == record.mediator_id or (task is not None and task.owner_id == user.pk)
    return holds and has_role(user, Role.MEDIATOR, record.case.organization)


@contextmanager
def _locked(case_id, user):
    """The case within the user's reach (404 otherwise), its process locked and its record
    locked and re-read, so every check sees the state the change applies to. The reach is
    decided on the case read under the lock (a mediator's own subtree needs no query)."""
    case_id = whole_number(case_id)
    if case_id is None:
        raise NotFound(_("Case not found."))
    with (
        memo.operation(),
        trail.acting(actor=user),
        transaction.atomic(),
    ):
        if _flow().lock_case(case_id) is None:
            raise NotFound(_("Case not found."))
        with notifications_batched():
            [case] = statements.rows("mediation_case", _case_read, case_id)
            if not in_reach(user, case):
                raise NotFound(_("Case not found."))
            [record] = statements.rows("mediation_record_locked", _locked_record_read, case_id)
            record.case = case
            memo.keep(rules.record_key(case_id), record)
            yield case, record


def _case_read(case_id):
    return Case.objects.select_related("organization", "applicant", "submitted_by").filter(
        pk=case_id
    )


def _locked_record_read(case_id):
    return (
        MediationCase.objects.select_related("mediator")
        .select_for_update(of=("self",))
        .filter(case_id=case_id)
    )


def _require_in_progress(case):
    if case.status != CaseStatus.IN_PROGRESS:
        raise Conflict(_("The case is no longer in progress."), code="case_closed")


# --- the application ------------------------------------------------------------------------


@memo.operation()
def submit_application(*, user, organization, applicant_username=None, **values):
    """File an application (申请). A member files their own in writing, with a mediation room
    that serves their union (rules.serves); a mediator of the organization records one for a
    worker — orally given (Art. 12) or in writing on their behalf. Recorded for a worker, the
    case's applicant is the worker's account when named (`applicant_username`: a member the
    room serves, as for a member filing), else the recording mediator, who then receives what
    the worker is told and hands it over."""
    recorder = has_role(user, Role.MEDIATOR, organization)
    if values["channel"] == Channel.ORAL and not recorder:
        raise Forbidden(_("An oral application is recorded by a mediator of the organization."))
    errors = {}
    applicant = user
    if recorder:
        if applicant_username:
            applicant = User.objects.filter(username=applicant_username, is_active=True).first()
            if applicant is None or applicant.pk == user.pk:
                errors["applicant_username"] = [_("Name the worker's active account.")]
            elif not rules.serves(organization, applicant):
                # The applicant follows the case and sees the worker's identifiers whole: only
                # a member of a union this room serves can be the worker.
                errors["applicant_username"] = [
                    _("Name the account of a member of a union within %(org)s.")
                    % {"org": organization.name}
                ]
    else:
        if applicant_username:
            errors["applicant_username"] = [
                _("Only a mediator recording an application names the worker's account.")
            ]
        if not any(m.role == Role.MEMBER for m in memberships_of(user)):
            raise Forbidden(
                _("Union members file applications; a mediator records them for others.")
            )
    if not users_with_role(Role.MEDIATION_HEAD, organization).exists():
        errors["organization"] = [_("This organization has no mediation committee.")]
    elif not recorder and not rules.serves(organization, user):
        # A member files with a room over their own union (the form offers no other): another
        # town's room does not mediate their dispute, and would read their identifiers.
        errors["organization"] = [
            _("%(org)s does not serve your union: file with the mediation room that does.")
            % {"org": organization.name}
        ]
    errors.update(rules.application_errors(values, organization))
    if errors:
        raise Invalid(_("The application cannot be filed."), fields=errors)
    # Whose account the case is filed under, when that is the worker's (not the recording
    # mediator's): a name other than the account's is flagged for the head at acceptance.
    account_name = "" if recorder and applicant.pk == user.pk else applicant.full_name
    name_differs = bool(account_name.strip()) and not rules.same_name(
        account_name, values["applicant_name"]
    )

    representatives = [
        {"name": r["name"].strip(), "phone": (r.get("phone") or "").strip()}
        for r in values.get("representatives") or []
    ]

    def record(case):
        received = case.created_at
        deadline = rules.statutory_deadline(received, organization)
        MediationCase.objects.create(
            case=case,
            channel=values["channel"],
            recorded_on_behalf=recorder,
            applicant_name=values["applicant_name"].strip(),
            applicant_id_number=values["applicant_id_number"],
            applicant_id_index=blind_index(values["applicant_id_number"], scope="ric"),
            applicant_phone=values["applicant_phone"].strip(),
            applicant_name_differs=name_differs,
            employer_name=values["employer_name"].strip(),
            employer_credit_code=values["employer_credit_code"],
            category=values["category"],
            claim_amount=values["claim_amount"],
            facts=values["facts"],
            known_on=values["known_on"],
            worker_count=values.get("worker_count") or 1,
            representatives=representatives,
            received_at=received,
            statutory_deadline=deadline,
            deadline_remind_at=rules.deadline_reminder_at(deadline, organization),
            limitation_flag=rules.past_limitation(values["known_on"], received, organization),
        )

    with transaction.atomic():
        case = submit_case(
            process=PROCESS,
            organization=organization,
            applicant=applicant,
            submitted_by=user,
            title=f"{values['applicant_name'].strip()} / {values['employer_name'].strip()}",
            amount=values["claim_amount"],
            # The trail keeps what was asked, not the worker's identifiers.
            data={
                "channel": values["channel"],
                "recorded_on_behalf": recorder,
                "category": values["category"],
                "claim_amount": values["claim_amount"],
                "employer_name": values["employer_name"],
                "employer_credit_code": values["employer_credit_code"],
                "known_on": values["known_on"],
                "worker_count": values.get("worker_count") or 1,
                "representatives": len(representatives),
                "applicant_name_differs": name_differs,
            },
            record=record,
        )
        # The acceptance deadline is the acceptance task's own.
        acceptance = _open_task(case, "acceptance")
        MediationCase.objects.filter(case=case).update(
            acceptance_due_at=acceptance.due_at if acceptance else None
        )
        memo.forget(rules.record_key(case.pk))  # a copy read before the update is stale
        if applicant.pk != user.pk:
            notify(
                event=f"mediation:{case.pk}:recorded",
                recipients=[applicant],
                verb="mediation_recorded",
                title=deferred(
                    gettext_lazy("%(mediator)s recorded your mediation application %(number)s"),
                    {"mediator": user.display_name, "number": case.number},
                ),
                case=case,
                data={"channel": values["channel"]},
            )
    return case


# --- what the steps record (called by the flow inside the task's transaction) --------------


def _record_for_update(case):
    return rules.record_of(case)  # locked by the operation's first read


def record_acceptance(task, decision, values):
    case = task.case
    record = _record_for_update(case)
    if decision == APPROVE:
        # Accepted again after a send-back to acceptance: it was accepted when first decided.
        record.accepted_at = record.accepted_at or timezone.now()
        record.save(update_fields=["accepted_at"])
        notify(
            event=f"mediation:{case.pk}:accepted",
            recipients=_worker_side(case),
            verb="mediation_accepted",
            title=deferred(
                gettext_lazy(
                    "Your mediation application %(number)s was accepted; the mediation term ends on %(date)s"
                ),
                {"number": case.number, "date": _local(record.statutory_deadline)},
            ),
            case=case,
            data={"statutory_deadline": record.statutory_deadline.isoformat()},
        )
        return
    record.decline_reason = values["decline_reason"]
    record.decline_text = (values.get("decline_text") or "").strip()
    record.save(update_fields=["decline_reason", "decline_text"])
    notify(
        event=f"mediation:{case.pk}:declined",
        recipients=_worker_side(case),
        verb="mediation_declined",
        title=deferred(
            gettext_lazy("Your mediation application %(number)s was declined: %(reason)s"),
            {"number": case.number, "reason": DeclineReason(record.decline_reason).label},
        ),
        body=deferred(gettext_lazy("The written notice: %(url)s"), {"url": notice_url(case)}),
        case=case,
        data={"reason": record.decline_reason, "notice": notice_url(case)},
    )


def record_assignment(task, values):
    case = task.case
    record = _record_for_update(case)
    mediator = rules.active_user(values["mediator"])  # as check_assignment found them
    if mediator is None:
        raise User.DoesNotExist(values["mediator"])
    record.mediator = mediator
    record.assigned_at = timezone.now()
    record.save(update_fields=["mediator", "assigned_at"])
    if record.mediation_outcome == Outcome.AGREEMENT:
        # In place of a mediator who became unavailable once the agreement was reached
        # (mediator_unavailable): mediation is over, recusal is no longer asked.
        title = gettext_lazy(
            "%(mediator)s is now the mediator of your case %(number)s and takes the agreement on"
        )
    else:
        title = gettext_lazy(
            "%(mediator)s will mediate your case %(number)s; you may ask for their recusal (回避)"
        )
    notify(
        event=f"mediation:{case.pk}:assigned:{task.pk}",
        recipients=_worker_side(case),
        verb="mediation_mediator_assigned",
        title=deferred(title, {"mediator": mediator.display_name, "number": case.number}),
        case=case,
        data={"mediator": mediator.username},
    )


def record_outcome(task, values):
    case = task.case
    record = _record_for_update(case)
    record.mediation_outcome = values["outcome"]
    record.outcome_recorded_at = timezone.now()
    agreement = values["outcome"] == Outcome.AGREEMENT
    # A new outcome replaces whatever an earlier round of mediation recorded.
    record.agreement_terms = values["terms"] if agreement else ""
    record.agreement_amount = Decimal(values["amount"]) if agreement else None
    record.performance_deadline = (
        dt.date.fromisoformat(values["performance_deadline"]) if agreement else None
    )
    record.performance_method = values["performance_method"] if agreement else ""
    record.signatures = {}
    record.save()
    if agreement:
        notify(
            event=f"mediation:{case.pk}:agreement:{task.pk}",
            recipients=_worker_side(case),
            verb="mediation_agreement_reached",
            title=deferred(
                gettext_lazy(
                    "An agreement was reached in case %(number)s; it takes effect once signed and sealed"
                ),
                {"number": case.number},
            ),
            case=case,
            data={"agreement_pdf": reverse("mediation-agreement", kwargs={"pk": case.pk})},
        )
        return
    notify(
        event=f"mediation:{case.pk}:no_agreement",
        recipients=_worker_side(case),
        verb="mediation_no_agreement",
        title=deferred(
            gettext_lazy(
                "No agreement in case %(number)s: you may apply for labor-dispute arbitration"
            ),
            {"number": case.number},
        ),
        body=deferred(gettext_lazy("The written notice: %(url)s"), {"url": notice_url(case)}),
        case=case,
        data={"notice": notice_url(case)},
    )


def record_effective(task):
    """All signed and sealed (Art. 14): the agreement binds from the last of them."""
    case = task.case
    record = _record_for_update(case)
    record.effective_at = max(
        dt.datetime.fromisoformat(s["signed_at"]) for s in record.signatures.values()
    )
    record.arbitral_review_until = rules.arbitral_review_until(
        record.effective_at, case.organization
    )
    record.save(update_fields=["effective_at", "arbitral_review_until"])
    trail.append(
        case,
        "mediation.agreement_effective",
        data={
            "effective_at": record.effective_at,
            "arbitral_review_until": record.arbitral_review_until,
        },
    )
    notify(
        event=f"mediation:{case.pk}:effective",
        recipients=[*_worker_side(case), record.mediator],
        verb="mediation_agreement_effective",
        title=deferred(
            gettext_lazy(
                "The agreement of case %(number)s is in effect: performance due by %(deadline)s; "
                "joint arbitral review may be applied for until %(review)s"
            ),
            {
                "number": case.number,
                "deadline": record.performance_deadline.isoformat(),
                "review": record.arbitral_review_until.isoformat(),
            },
        ),
        case=case,
        data={"agreement_pdf": reverse("mediation-agreement", kwargs={"pk": case.pk})},
    )


def record_performance(task, values):
    case = task.case
    record = _record_for_update(case)
    record.performance = values["performance"]
    record.performance_note = (values.get("note") or "").strip()
    record.performance_recorded_at = timezone.now()
    record.save(update_fields=["performance", "performance_note", "performance_recorded_at"])
    if record.performance != Performance.NOT_PERFORMED:
        return
    payment_order = record.category in PAYMENT_ORDER_CATEGORIES
    if payment_order:
        title = gettext_lazy(
            "The employer did not perform the agreement of case %(number)s: you may apply for "
            "arbitration, or to a court for a payment order (支付令)"
        )
    else:
        title = gettext_lazy(
            "The employer did not perform the agreement of case %(number)s: you may apply for "
            "arbitration"
        )
    notify(
        event=f"mediation:{case.pk}:not_performed",
        recipients=_worker_side(case),
        verb="mediation_not_performed",
        title=deferred(title, {"number": case.number}),
        body=deferred(gettext_lazy("The written notice: %(url)s"), {"url": notice_url(case)}),
        case=case,
        data={"notice": notice_url(case), "payment_order": payment_order},
    )


# --- sessions, signatures, extensions -------------------------------------------------------


def record_session(*, case_id, user, date, attendees, notes):
    """A mediation session (调解会): when, who attended, what was said — by the mediator,
    while the case is being mediated."""
    with _locked(case_id, user) as (case, record):
        _require_in_progress(case)
        task = _open_task(case, "mediation")
        if task is None:
            raise Conflict(
                _("Sessions are recorded while the case is being mediated."), code="not_mediating"
            )
        if not acts_as_mediator(user, record, task):
            raise Forbidden(_("Only the assigned mediator records sessions."))
        if rules.pending_recusal(case) is not None:
            raise Conflict(
                _("A recusal request is pending: the mediation head decides first."),
                code="recusal_pending",
            )
        if date > timezone.localdate():
            raise Invalid(_("Invalid session."), fields={"date": [_("Cannot be in the future.")]})
        if date < local_date(record.received_at):
            raise Invalid(
                _("Invalid session."),
                fields={"date": [_("Cannot be before the application was received.")]},
            )
        number = len(record.sessions) + 1
        record.sessions = [
            *record.sessions,
            {
                "no": number,
                "date": date.isoformat(),
                "attendees": [a.strip() for a in attendees],
                "notes": notes,
                "recorded_by": user.username,
                "recorded_at": _stamp(timezone.now()),
            },
        ]
        record.save(update_fields=["sessions"])
        trail.append(
            case,
            "mediation.session_recorded",
            actor=user,
            actor_role=Role.MEDIATOR,
            data={"no": number, "date": date, "attendees": len(attendees)},
        )
    return case


def record_signature(*, case_id, user, party, signed_at=None):
    """A signature on the agreement. The parties and the mediator sign the paper in the room
    and the assigned mediator records each; the mediation head applies the organization's
    seal, last. The last one makes the agreement effective and completes the signing step."""
    with _locked(case_id, user) as (case, record):
        _require_in_progress(case)
        task = _open_task(case, "signing")
        if task is None:
            raise Conflict(_("No agreement is awaiting signatures."), code="not_signing")
        if party in record.signatures:
            raise Conflict(_("This signature is already recorded."), code="already_signed")
        if party == Party.SEAL:
            if not is_head(user, case):
                raise Forbidden(_("The mediation head applies the organization's seal."))
            if any(p not in record.signatures for p in PARTY_SIGNATURES):
                raise Conflict(
                    _("The seal is applied after both parties and the mediator have signed."),
                    code="signatures_missing",
                )
            role = Role.MEDIATION_HEAD
        else:
            if not acts_as_mediator(user, record, task):
                raise Forbidden(_("The assigned mediator records the signatures."))
            role = Role.MEDIATOR
        now = timezone.now()
        when = rules.parse_moment(signed_at) if signed_at else now
        if when > now:
            raise Invalid(
                _("Invalid signature."), fields={"signed_at": [_("Cannot be in the future.")]}
            )
        if when < record.outcome_recorded_at:
            raise Invalid(
                _("Invalid signature."),
                fields={"signed_at": [_("Cannot be before the agreement was recorded.")]},
            )
        if party == Party.SEAL:
            last_signed = max(
                dt.datetime.fromisoformat(record.signatures[p]["signed_at"])
                for p in PARTY_SIGNATURES
            )
            if when < last_signed:
                raise Invalid(
                    _("Invalid signature."),
                    fields={
                        "signed_at": [
                            _("The seal is applied after the last signature (%(at)s).")
                            % {"at": timezone.localtime(last_signed).strftime("%Y-%m-%d %H:%M")}
                        ]
                    },
                )
        others = [dt.datetime.fromisoformat(s["signed_at"]) for s in record.signatures.values()]
        if (
            len(others) + 1 == len(Party)
            and local_date(max([*others, when])) > record.performance_deadline
        ):
            # The last signature makes the agreement take effect: it cannot bind from after
            # the day it was to be performed by. The mediator records a new outcome (the
            # periodic job sends such an agreement back to mediation, _lapse_unsigned).
            raise Invalid(
                _("Invalid signature."),
                fields={
                    "signed_at": [
                        _(
                            "The agreement would take effect after its performance deadline "
                            "(%(date)s): the mediator records a new outcome with a new deadline."
                        )
                        % {"date": record.performance_deadline.isoformat()}
                    ]
                },
            )
        signature = {
            "signed_at": _stamp(when),
            "recorded_by": user.username,
            "recorded_at": _stamp(now),
        }
        if party == Party.MEDIATOR:
            # Whose signature it is: the mediator of record now. It stays theirs if another
            # mediator is assigned before the agreement takes effect (mediator_unavailable).
            signature["mediator"] = (
                record.mediator.username if record.mediator_id else user.username
            )
        record.signatures = {**record.signatures, party: signature}
        record.save(update_fields=["signatures"])
        trail.append(
            case,
            "mediation.signed",
            actor=user,
            actor_role=role,
            data={"party": party, "signed_at": when},
        )
        missing = rules.missing_signatures(record)
        if missing == [Party.SEAL]:
            notify(
                event=f"mediation:{case.pk}:ready_for_seal:{record.outcome_recorded_at:%Y%m%d%H%M%S}",
                recipients=_heads(case),
                verb="mediation_ready_for_seal",
                title=deferred(
                    gettext_lazy("The agreement of case %(number)s is signed and awaits the seal"),
                    {"number": case.number},
                ),
                case=case,
            )
        if not missing:
            _complete_signing(task)
    return case


def _complete_signing(task):
    from approvals.services.tasks import decide

    task._trail_handled = True
    if task.status == STATUS.NEW:
        task.status = STATUS.ASSIGNED  # a step by role: the system takes it
    decide(
        task,
        actor=None,
        decision=SUBMIT,
        comment=_("Signed by both parties and the mediator and sealed."),
        system_reason="all_signatures_recorded",
    )


def withdraw_agreement(*, case_id, user, reason):
    """The mediator withdraws an agreement that awaits its signatures — a party will not sign
    it — rather than wait for its performance deadline to lapse it (_lapse_unsigned): it is
    void, with the signatures given so far, and the case goes back to the mediator to record a
    new outcome (a new agreement, or none). Not once both parties and the mediator have signed
    it (only the seal is missing then: the mediation head applies it), nor once it is in
    effect. The parties are told, and the mediation head."""
    from approvals.services import reroute

    with _locked(case_id, user) as (case, record):
        task = _open_task(case, "signing")
        if not acts_as_mediator(user, record, task):
            raise Forbidden(_("Only the case's mediator withdraws its agreement."))
        _require_in_progress(case)
        if record.effective_at is not None:
            raise Conflict(_("The agreement is already in effect."), code="agreement_effective")
        if task is None:
            raise Conflict(_("No agreement is awaiting signatures."), code="not_signing")
        if all(p in record.signatures for p in PARTY_SIGNATURES):
            raise Conflict(
                _(
                    "Both parties and the mediator have signed the agreement: it can no longer "
                    "be withdrawn, and takes effect once the mediation head applies the seal."
                ),
                code="agreement_signed",
            )
        reason = (reason or "").strip()
        if not reason:
            raise Invalid(_("Give a reason."), fields={"reason": [_("A reason is required.")]})
        deadline, signed = _void_agreement(record)
        reroute(
            case_id=case.pk,
            to_step="mediation",
            actor=user,
            actor_role=Role.MEDIATOR,
            action="mediation.agreement_withdrawn",
            comment=reason,
            data={"performance_deadline": deadline, "signed": signed},
        )
        notify(
            event=f"mediation:{case.pk}:agreement_withdrawn:{task.pk}",
            recipients=[*_worker_side(case), *_heads(case)],
            verb="mediation_agreement_withdrawn",
            title=deferred(
                gettext_lazy(
                    "%(mediator)s withdrew the agreement of case %(number)s before it took "
                    "effect: mediation continues, and the mediator records a new outcome"
                ),
                {"mediator": user.display_name, "number": case.number},
            ),
            body=reason,
            case=case,
            data={"performance_deadline": deadline.isoformat(), "signed": signed},
        )
    return case


def _void_agreement(record):
    """An agreement that did not take effect is void, with the signatures given so far: the
    record keeps no outcome, for the mediator to record a new one. Returns its performance
    deadline and who had signed it."""
    deadline = record.performance_deadline
    signed = sorted(record.signatures)
    record.mediation_outcome = ""
    record.outcome_recorded_at = None
    record.agreement_terms = ""
    record.agreement_amount = None
    record.performance_deadline = None
    record.performance_method = ""
    record.signatures = {}
    record.save()
    return deadline, signed


def record_extension(
    *, case_id, user, worker_consent, employer_consent, until=None, days=None, note=""
):
    """Extend the statutory term: only with both parties' recorded consent (Art. 14)."""
    with _locked(case_id, user) as (case, record):
        if not (acts_as_mediator(user, record) or is_head(user, case)):
            raise Forbidden(_("The mediator or the mediation head records an extension."))
        _require_in_progress(case)
        if record.effective_at is not None:
            raise Conflict(_("The agreement is already in effect."), code="agreement_effective")
        if record.accepted_at is None:
            raise Conflict(_("The application has not been accepted yet."), code="not_accepted")
        now = timezone.now()
        if record.statutory_deadline < now:
            raise Conflict(
                _("The statutory term has already passed; it can no longer be extended."),
                code="term_passed",
            )
        errors = {}
        if not worker_consent:
            errors["worker_consent"] = [_("The worker's consent is required.")]
        if not employer_consent:
            errors["employer_consent"] = [_("The employer's consent is required.")]
        if (until is None) == (days is None):
            errors["until"] = [_("Give either a new deadline (until) or a number of days.")]
        if errors:
            raise Invalid(_("The term cannot be extended."), fields=errors)
        previous = record.statutory_deadline
        if until is not None:
            new_deadline = end_of_day(until)
        else:
            new_deadline = end_of_day(local_date(previous) + dt.timedelta(days=days))
        if new_deadline <= previous:
            raise Invalid(
                _("The term cannot be extended."),
                fields={"until": [_("Must be later than the current deadline.")]},
            )
        entry = {
            "no": len(record.extensions) + 1,
            "previous_deadline": _stamp(previous),
            "new_deadline": _stamp(new_deadline),
            "worker_consent": True,
            "employer_consent": True,
            "note": note,
            "recorded_by": user.username,
            "recorded_at": _stamp(now),
        }
        record.extensions = [*record.extensions, entry]
        record.statutory_deadline = new_deadline
        record.deadline_remind_at = rules.deadline_reminder_at(new_deadline, case.organization)
        record.deadline_reminded_at = None
        record.save(
            update_fields=[
                "extensions",
                "statutory_deadline",
                "deadline_remind_at",
                "deadline_reminded_at",
            ]
        )
        trail.append(
            case,
            "mediation.term_extended",
            actor=user,
            actor_role=Role.MEDIATION_HEAD if is_head(user, case) else Role.MEDIATOR,
            comment=note,
            data={
                "previous_deadline": previous,
                "new_deadline": new_deadline,
                "worker_consent": True,
                "employer_consent": True,
            },
        )
        notify(
            event=f"mediation:{case.pk}:extended:{entry['no']}",
            recipients=[*_worker_side(case), record.mediator, *_heads(case)],
            verb="mediation_term_extended",
            title=deferred(
                gettext_lazy(
                    "With both parties' consent the mediation term of %(number)s now ends on %(date)s"
                ),
                {"number": case.number, "date": _local(new_deadline)},
            ),
            case=case,
            data={"statutory_deadline": new_deadline.isoformat()},
        )
    return case


# --- recusal (回避) -------------------------------------------------------------------------


def request_recusal(*, case_id, user, party, reason):
    """A party asks that the mediator step aside. The worker asks through their account; a
    mediator or the head of the organization records a request made on paper or in person
    (the employer's always)."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give a reason."), fields={"reason": [_("A reason is required.")]})
    with _locked(case_id, user) as (case, record):
        if is_head(user, case):
            role = Role.MEDIATION_HEAD
        elif has_role(user, Role.MEDIATOR, case.organization):
            role = Role.MEDIATOR
        else:
            role = Role.MEMBER
        worker = rules.is_worker(user, case, record)
        if role == Role.MEMBER and not (worker and party == Party.WORKER):
            raise Forbidden(
                _("A party asks for recusal; the mediation room records an employer's request.")
            )
        _require_in_progress(case)
        if _open_task(case, "mediation") is None or record.mediator_id is None:
            raise Conflict(
                _("Recusal can be asked while a mediator is mediating the case."),
                code="not_mediating",
            )
        if rules.pending_recusal(case) is not None:
            raise Conflict(_("A recusal request is already pending."), code="recusal_pending")
        recusal = Recusal.objects.create(
            case=case, mediator=record.mediator, party=party, reason=reason, requested_by=user
        )
        trail.append(
            case,
            "mediation.recusal_requested",
            actor=user,
            actor_role=role,
            comment=reason,
            data={"recusal": recusal.pk, "party": party, "mediator": record.mediator.username},
        )
        notify(
            event=f"mediation:{case.pk}:recusal:{recusal.pk}:requested",
            recipients=[*_heads(case), record.mediator],
            verb="mediation_recusal_requested",
            title=deferred(
                gettext_lazy("Recusal of %(mediator)s asked by the %(party)s in case %(number)s"),
                {
                    "mediator": record.mediator.display_name,
                    "party": Party(party).label,
                    "number": case.number,
                },
            ),
            body=reason,
            case=case,
            data={"recusal": recusal.pk},
        )
    return recusal


def decide_recusal(*, case_id, recusal_id, user, decision, comment=""):
    """The mediation head grants (the mediator steps aside; the case goes back to assignment)
    or refuses a recusal request."""
    from approvals.services import reroute

    comment = (comment or "").strip()
    with _locked(case_id, user) as (case, record):
        recusal = (
            Recusal.objects.select_for_update()
            .filter(pk=recusal_id, case=case)
            .select_related("mediator", "requested_by")
            .first()
        )
        if recusal is None:
            raise NotFound(_("Recusal request not found."))
        if not is_head(user, case):
            raise Forbidden(_("The mediation head decides on recusal."))
        if recusal.status != RecusalStatus.PENDING:
            raise Conflict(_("This request has already been decided."), code="already_decided")
        _require_in_progress(case)
        if decision == "refuse" and not comment:
            raise Invalid(_("Say why."), fields={"comment": [_("A reason is required.")]})
        recusal.status = RecusalStatus.GRANTED if decision == "grant" else RecusalStatus.REFUSED
        recusal.decided_by = user
        recusal.decided_at = timezone.now()
        recusal.decision_comment = comment
        recusal.save()
        data = {"recusal": recusal.pk, "mediator": recusal.mediator.username}
        if recusal.status == RecusalStatus.GRANTED:
            record.mediator = None
            record.assigned_at = None
            record.save(update_fields=["mediator", "assigned_at"])
            reroute(
                case_id=case.pk,
                to_step="assignment",
                actor=user,
                actor_role=Role.MEDIATION_HEAD,
                action="mediation.recusal_granted",
                comment=comment,
                data=data,
            )
            title = gettext_lazy(
                "Recusal granted in case %(number)s: %(mediator)s steps aside; another mediator will be assigned"
            )
        else:
            trail.append(
                case,
                "mediation.recusal_refused",
                actor=user,
                actor_role=Role.MEDIATION_HEAD,
                comment=comment,
                data=data,
            )
            title = gettext_lazy("Recusal refused in case %(number)s: %(mediator)s continues")
        notify(
            event=f"mediation:{case.pk}:recusal:{recusal.pk}:decided",
            recipients=[*_worker_side(case), recusal.requested_by, recusal.mediator],
            verb=f"mediation_recusal_{recusal.status}",
            title=deferred(
                title, {"number": case.number, "mediator": recusal.mediator.display_name}
            ),
            body=comment,
            case=case,
            data={"recusal": recusal.pk, "decision": recusal.status},
        )
    return recusal


def lapse_pending_recusals(case):
    """A case that ends (expired, withdrawn) leaves no request waiting for a decision, nor does
    a mediator who steps aside (mediator_unavailable)."""
    Recusal.objects.filter(case=case, status=RecusalStatus.PENDING).update(
        status=RecusalStatus.LAPSED, decided_at=timezone.now()
    )


# --- the mediator unavailable ---------------------------------------------------------------


def mediator_unavailable(task, *, reason):
    """The mediator of record can no longer act on the case — their account was switched off
    (`reason` "account_inactive") or their mediator role taken away ("role_removed") — and
    `task`, one of the steps named for them, is open in their name: as when a recusal is granted, they step aside and the case goes back to the
    mediation head, who assigns another mediator with the usual checks (conflict of interest,
    recusal). Until then the case names no mediator. What was recorded stays: the sessions, an
    agreement and the signatures given so far. Once assigned, the new mediator takes the case
    on where it stands (the flow's `resumption` switch after assignment): mediating,
    collecting the missing signatures, or following up the performance of an agreement in
    effect. A pending recusal request about the mediator who left lapses.

    Called by the beat (approvals.services.holders, through the flow's
    `named_holder_unavailable`) in its transaction, under the case's process lock, with `task`
    read under it, having checked that the mediator still cannot act. Returns whether it acted:
    not when the task is not the mediator of record's."""
    from approvals.services import reroute

    case = task.case
    if case.status != CaseStatus.IN_PROGRESS or task.status not in OPEN_STATUSES:
        return False
    record = rules.record_of(case)  # locked: the beat's operation, in its transaction
    mediator = record.mediator
    if mediator is None or mediator.pk != task.owner_id:
        return False
    step = task.flow_task.name
    record.mediator = None
    record.assigned_at = None
    record.save(update_fields=["mediator", "assigned_at"])
    lapse_pending_recusals(case)
    reroute(
        case_id=case.pk,
        to_step="assignment",
        actor=None,
        action="mediation.mediator_unavailable",
        comment="",
        data={"mediator": mediator.username, "reason": reason, "from_step": step},
    )
    notify(
        event=f"mediation:{case.pk}:mediator_unavailable:{task.pk}",
        recipients=[*_heads(case), *_worker_side(case)],
        verb="mediation_mediator_unavailable",
        title=deferred(
            gettext_lazy(
                "%(mediator)s can no longer mediate case %(number)s: the mediation head assigns "
                "another mediator"
            ),
            {"mediator": mediator.display_name, "number": case.number},
        ),
        case=case,
        data={"mediator": mediator.username, "reason": reason, "step": step},
    )
    return True


# --- the statutory term (periodic) --------------------------------------------------------


def enforce_statutory_terms(now=None):
    """One beat run: end the cases past their statutory term without an effective agreement,
    remind the room before the term ends, and ask the mediator to follow up an agreement whose
    performance deadline has passed. Each case is handled in its own transaction under a lock
    taken with SKIP LOCKED and re-checked, with a marker, so repeated or overlapping runs act
    once. Returns the counts."""
    now = now or timezone.now()
    counts = {"expired": 0, "lapsed": 0, "reminded": 0, "followed_up": 0}
    jobs = (
        ("expired", selectors.due_for_expiry(now), expire),
        ("lapsed", selectors.due_for_lapse(local_date(now)), _lapse_unsigned),
        ("reminded", selectors.due_for_reminder(now), _remind),
        ("followed_up", selectors.due_for_followup(local_date(now)), _follow_up),
    )
    for name, case_ids, action in jobs:
        for case_id in list(case_ids):
            try:
                counts[name] += action(case_id, now)
            except Exception:  # one broken case must not stop the others
                logger.exception("mediation %s failed for case %s", name, case_id)
    return counts


def _lock_due(case_id, now, due):
    """A job's case and record, locked without waiting and checked again under the lock: None
    when the case is busy elsewhere (the next run takes it), no longer in progress, or no
    longer `due(case, record, now)` — an earlier or overlapping run, or a person, acted first."""
    process_id = Case.objects.filter(pk=case_id).values_list("flow_process_id", flat=True).first()
    if not Process.objects.select_for_update(skip_locked=True).filter(pk=process_id).exists():
        return None
    record = MediationCase.objects.select_for_update(skip_locked=True).filter(case_id=case_id)
    record = record.first()
    if record is None:
        return None
    case = Case.objects.select_related("organization", "applicant", "submitted_by").get(pk=case_id)
    if case.status != CaseStatus.IN_PROGRESS or not due(case, record, now):
        return None
    return case, record


def _past_term(case, record, now):
    return (
        record.effective_at is None
        and record.expired_at is None
        and record.statutory_deadline < now
    )


def expire(case_id, now):
    """Past the statutory term without an effective agreement: the case ends as `expired`,
    whatever is open is cancelled, and the parties are told they may apply for arbitration."""
    with transaction.atomic():
        locked = _lock_due(case_id, now, _past_term)
        if locked is None:
            return False
        case, record = locked
        open_tasks = list(
            CaseTask.objects.filter(case=case, status__in=(*OPEN_STATUSES, STATUS.SCHEDULED))
            .exclude(flow_task_type__in=ROUTING_TYPES)
            .select_related("owner", "case")
            .order_by("created", "pk")
        )
        if not open_tasks:
            logger.error("mediation case %s is in progress with nothing open", case.number)
            return False
        record.expired_at = now
        record.save(update_fields=["expired_at"])
        trail.append(
            case,
            "mediation.term_expired",
            data={
                "statutory_deadline": record.statutory_deadline,
                "received_at": record.received_at,
            },
        )
        holders = set()
        for task in open_tasks:
            if task.owner_id:
                holders.add(task.owner)
            task._trail_handled = True
            task.flow_task.activation_class(task).cancel()
            trail.append(
                case, "task.canceled", task=task, data={"reason": "statutory_term_expired"}
            )
        last = open_tasks[-1]
        end = _flow().instance.expired._create(last.flow_task.activation_class(last), last.token)
        end._activate_next({end})  # the Finish node settles the case
        lapse_pending_recusals(case)
        notify(
            event=f"mediation:{case.pk}:expired",
            recipients=[*_worker_side(case), *holders, record.mediator, *_heads(case)],
            verb="mediation_expired",
            title=deferred(
                gettext_lazy(
                    "The mediation term of case %(number)s passed without an agreement: you may apply "
                    "for labor-dispute arbitration"
                ),
                {"number": case.number},
            ),
            body=deferred(gettext_lazy("The written notice: %(url)s"), {"url": notice_url(case)}),
            case=case,
            data={
                "notice": notice_url(case),
                "statutory_deadline": record.statutory_deadline.isoformat(),
            },
        )
        return True


def _unsigned_past_deadline(case, record, now):
    return (
        record.effective_at is None
        and record.mediation_outcome == Outcome.AGREEMENT
        and record.performance_deadline < local_date(now)
        and _open_task(case, "signing") is not None
    )


def _lapse_unsigned(case_id, now):
    """An agreement still awaiting signatures when its performance deadline has passed can no
    longer take effect (record_signature refuses the last signature): it is void, with the
    signatures given so far, and the case goes back to its mediator to record a new outcome
    (a new agreement with a new deadline, or none)."""
    from approvals.services import reroute

    with transaction.atomic():
        locked = _lock_due(case_id, now, _unsigned_past_deadline)
        if locked is None:
            return False
        case, record = locked
        deadline, signed = _void_agreement(record)
        reroute(
            case_id=case.pk,
            to_step="mediation",
            actor=None,
            action="mediation.agreement_lapsed",
            comment="",
            data={"performance_deadline": deadline, "signed": signed},
        )
        notify(
            event=f"mediation:{case.pk}:agreement_lapsed:{deadline:%Y%m%d}",
            recipients=[*_worker_side(case), record.mediator, *_heads(case)],
            verb="mediation_agreement_lapsed",
            title=deferred(
                gettext_lazy(
                    "The agreement of case %(number)s was not signed and sealed by its "
                    "performance deadline (%(date)s) and did not take effect: the mediator "
                    "records a new outcome"
                ),
                {"number": case.number, "date": deadline.isoformat()},
            ),
            case=case,
            data={"performance_deadline": deadline.isoformat()},
        )
        return True


def _reminder_due(case, record, now):
    return (
        record.effective_at is None
        and record.deadline_reminded_at is None
        and record.deadline_remind_at is not None
        and record.deadline_remind_at <= now
        and record.statutory_deadline > now
    )


def _remind(case_id, now):
    with transaction.atomic():
        locked = _lock_due(case_id, now, _reminder_due)
        if locked is None:
            return False
        case, record = locked
        record.deadline_reminded_at = now
        record.save(update_fields=["deadline_reminded_at"])
        trail.append(
            case, "mediation.term_reminder", data={"statutory_deadline": record.statutory_deadline}
        )
        notify(
            event=f"mediation:{case.pk}:term_reminder:{record.statutory_deadline:%Y%m%d}",
            recipients=[record.mediator, *_heads(case)],
            verb="mediation_term_due_soon",
            title=deferred(
                gettext_lazy("The mediation term of case %(number)s ends on %(date)s"),
                {"number": case.number, "date": _local(record.statutory_deadline)},
            ),
            case=case,
            data={"statutory_deadline": record.statutory_deadline.isoformat()},
        )
        return True


def _follow_up_due(case, record, now):
    return (
        record.effective_at is not None
        and not record.performance
        and record.performance_followup_at is None
        and record.performance_deadline < local_date(now)
    )


def _follow_up(case_id, now):
    with transaction.atomic():
        locked = _lock_due(case_id, now, _follow_up_due)
        if locked is None:
            return False
        case, record = locked
        record.performance_followup_at = now
        record.save(update_fields=["performance_followup_at"])
        trail.append(
            case,
            "mediation.performance_due",
            data={"performance_deadline": record.performance_deadline},
        )
        task = _open_task(case, "performance")
        mediator = task.owner if task and task.owner_id else record.mediator
        notify(
            event=f"mediation:{case.pk}:performance_due",
            # No mediator while the head assigns another (mediator_unavailable): the heads.
            recipients=[mediator] if mediator else _heads(case),
            verb="mediation_performance_due",
            title=deferred(
                gettext_lazy(
                    "The performance deadline of the agreement in case %(number)s has passed: record "
                    "whether it was performed"
                ),
                {"number": case.number},
            ),
            case=case,
            data={"performance_deadline": record.performance_deadline.isoformat()},
        )
        return True
