"""Labor-dispute mediation (劳动争议调解): the mediation head accepts or declines the
application, assigns a mediator, the mediator holds sessions and records the outcome; an
agreement takes effect once both parties and the mediator have signed and the organization
has sealed it, and the mediator then follows up its performance. An agreement that does not
take effect goes back to mediation: withdrawn by the mediator while a signature is missing
(services.withdraw_agreement), or lapsed at its performance deadline (the periodic job). The
15-day statutory term runs from receipt (cases.mediation.tasks.enforce_statutory_terms ends a
case that passes it: the `expired` finish). A mediator whose account is switched off steps
aside as a recused one does: the case goes back to the head to assign another mediator, who
takes it on where it stands (services.mediator_unavailable). DOMAIN.md section B.

Separation of duties is off throughout: one mediation room handles a case — the head who
accepts also assigns, the mediator who records an oral application may mediate it. The
impartiality rules of mediation are conflicts of interest and recusal, checked at assignment."""

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from approvals.calendar import ParameterWorkingDays
from approvals.nodes import Finish, Step
from approvals.spec import APPROVE, REJECT, SUBMIT, Approvers, Field, Users, case_org
from cases.mediation import rules, services
from cases.mediation.models import (
    OFFERED_DECLINE_REASONS,
    MediatorConflict,
    Outcome,
    Performance,
    Recusal,
    RecusalStatus,
)
from cases.models import CaseStatus
from organizations.models import Role
from organizations.selectors import memberships_of
from workflows.base import CaseFlow, register


def _mediator(case):
    mediator = services.assigned_mediator(case)
    return [mediator] if mediator else []


def _free_to_mediate(user):
    """rules.mediator_problem as a filter on cases, for the queue (Step.eligible_q): a
    mediator of the case's organization, not its worker, without a recorded conflict with the
    employer, not recused from it. Kept in step with that check: the test suite compares the
    two on every mediation task it shows or acts on."""
    rooms = [m.organization_id for m in memberships_of(user) if m.role == Role.MEDIATOR]
    # rules.is_worker: the applicant, unless a mediator recorded the application as its
    # applicant of record.
    worker = Q(applicant_id=user.pk) & ~Q(
        mediation__recorded_on_behalf=True, submitted_by_id=user.pk
    )
    conflict = MediatorConflict.objects.filter(
        mediator=user, employer_credit_code=OuterRef("mediation__employer_credit_code")
    )
    recused = Recusal.objects.filter(
        case=OuterRef("pk"), mediator=user, status=RecusalStatus.GRANTED
    )
    return Q(organization_id__in=rooms) & ~worker & ~Exists(conflict) & ~Exists(recused)


@register
class MediationFlow(CaseFlow):
    """Labor-dispute mediation"""

    process_name = "mediation"
    number_prefix = "TJ"

    start = (
        flow.StartHandle(this.start_case).Annotation(title=_("Application")).Next(this.acceptance)
    )
    acceptance = (
        Step(
            _("Accept or decline the application"),
            approvers=Approvers("mediation_head", at=case_org),
            decisions=(APPROVE, REJECT),
            fields=(
                Field(
                    "decline_reason",
                    "choice",
                    _("Reason for declining"),
                    required=False,
                    choices=tuple((r.value, r.label) for r in OFFERED_DECLINE_REASONS),
                ),
                Field("decline_text", "text", _("Explanation"), required=False),
            ),
            due=ParameterWorkingDays("mediation.acceptance_working_days"),
            separation_of_duties=False,
            tells_applicant=True,
            send_back_target=False,  # accepted is accepted: never declined afterwards
            validate=this.check_acceptance,
            on_complete=this.record_acceptance,
        )
        .Next(this.assignment)
        .OnReject(this.declined)
    )
    assignment = Step(
        _("Assign a mediator"),
        approvers=Approvers("mediation_head", at=case_org),
        decisions=(SUBMIT,),
        fields=(Field("mediator", "user", _("Mediator")),),
        separation_of_duties=False,
        tells_applicant=True,
        validate=this.check_assignment,
        on_complete=this.record_assignment,
    ).Next(this.resumption)
    # Assigned again after the mediator of record became unavailable once an agreement was
    # reached (services.mediator_unavailable): the new mediator takes the case on where it
    # stands — the agreement in effect is followed up, one awaiting signatures keeps those
    # given — rather than mediate it afresh. Otherwise mediation begins (or resumes).
    resumption = (
        flow.Switch()
        .Annotation(title=_("Where does the case stand?"))
        .Case(this.performance, this.agreement_in_effect)
        .Case(this.signing, this.agreement_awaiting_signatures)
        .Default(this.mediation)
    )
    mediation = Step(
        _("Mediate and record the outcome"),
        approvers=Users(_mediator, role="mediator", role_at_case=True),
        decisions=(SUBMIT,),
        fields=(
            Field(
                "outcome",
                "choice",
                _("Outcome"),
                choices=(
                    (Outcome.AGREEMENT.value, Outcome.AGREEMENT.label),
                    (Outcome.NO_AGREEMENT.value, Outcome.NO_AGREEMENT.label),
                ),
            ),
            Field("terms", "text", _("Terms of the agreement"), required=False, max_length=10000),
            Field("amount", "decimal", _("Agreed amount"), required=False),
            Field("performance_deadline", "date", _("Performance deadline"), required=False),
            Field("performance_method", "string", _("Performance method"), required=False),
        ),
        separation_of_duties=False,
        # Whoever mediates — a delegate too — must be free to (not recused, no conflict).
        eligibility=lambda case, user: rules.mediator_problem(case, rules.record_of(case), user),
        eligible_q=_free_to_mediate,
        # A mediator who recorded an oral application is its applicant of record, not a party.
        applicant_may_act=True,
        tells_applicant=True,
        validate=this.check_outcome,
        on_complete=this.record_outcome,
    ).Next(this.outcome_gate)
    outcome_gate = (
        flow.If(this.agreement_reached)
        .Annotation(title=_("Agreement reached?"))
        .Then(this.signing)
        .Else(this.no_agreement)
    )
    signing = Step(
        _("Signatures and seal of the agreement"),
        approvers=Users(_mediator, role="mediator", role_at_case=True),
        decisions=(SUBMIT,),
        separation_of_duties=False,
        eligibility=lambda case, user: rules.mediator_problem(case, rules.record_of(case), user),
        eligible_q=_free_to_mediate,
        applicant_may_act=True,
        # Completed by services.record_signature when the last signature is recorded.
        allow_send_back=False,  # going back would leave a signed agreement in place
        tells_applicant=True,
        validate=this.check_signing,
        on_complete=this.record_effective,
    ).Next(this.performance)
    performance = Step(
        _("Follow up the performance of the agreement"),
        approvers=Users(_mediator, role="mediator", role_at_case=True),
        decisions=(SUBMIT,),
        fields=(
            Field("performance", "choice", _("Performance"), choices=tuple(Performance.choices)),
            Field("note", "text", _("Note"), required=False),
        ),
        separation_of_duties=False,
        eligibility=lambda case, user: rules.mediator_problem(case, rules.record_of(case), user),
        eligible_q=_free_to_mediate,
        applicant_may_act=True,
        allow_send_back=False,
        tells_applicant=True,
        validate=this.check_performance,
        on_complete=this.record_performance,
    ).Next(this.concluded)

    concluded = Finish(
        _("Closed with an agreement"), status=CaseStatus.CLOSED, outcome=Outcome.AGREEMENT
    )
    no_agreement = Finish(
        _("Closed without an agreement"), status=CaseStatus.CLOSED, outcome=Outcome.NO_AGREEMENT
    )
    # A declined application never entered mediation: rejected, so that it does not count
    # among the closed mediations of the success rate.
    declined = Finish(_("Not accepted"), status=CaseStatus.REJECTED, outcome=Outcome.DECLINED)
    # Reached from the periodic job only (services.expire), never by a decision.
    expired = Finish(
        _("Closed at the end of the term"), status=CaseStatus.CLOSED, outcome=Outcome.EXPIRED
    )

    # --- the steps write into the mediation record (cases.mediation.services) --------------

    def check_acceptance(self, task, decision, values, comment):
        return rules.check_acceptance(task.case, decision, values)

    def record_acceptance(self, task, decision, values):
        services.record_acceptance(task, decision, values)

    def check_assignment(self, task, decision, values, comment):
        return rules.check_assignment(task.case, values)

    def record_assignment(self, task, decision, values):
        services.record_assignment(task, values)

    def check_outcome(self, task, decision, values, comment):
        return rules.check_outcome(task.case, values)

    def record_outcome(self, task, decision, values):
        services.record_outcome(task, values)

    def agreement_reached(self, activation):
        return services.record_of(activation.process).mediation_outcome == Outcome.AGREEMENT

    def agreement_in_effect(self, activation):
        return services.record_of(activation.process).effective_at is not None

    def agreement_awaiting_signatures(self, activation):
        record = services.record_of(activation.process)
        return record.mediation_outcome == Outcome.AGREEMENT and record.effective_at is None

    def check_signing(self, task, decision, values, comment):
        return rules.check_signing(task.case)

    def record_effective(self, task, decision, values):
        services.record_effective(task)

    def check_performance(self, task, decision, values, comment):
        return rules.check_performance(task.case, values)

    def record_performance(self, task, decision, values):
        services.record_performance(task, values)

    def can_withdraw(self, case):
        """Until the agreement takes effect: from then on it binds both parties."""
        return services.record_of_case(case).effective_at is None

    def on_withdrawn(self, case):
        services.lapse_pending_recusals(case)

    # --- the mediator's account switched off -------------------------------------------------

    def named_holder_unavailable(self, task, reason):
        """The steps named for the mediator of record go back to the mediation head, as a
        granted recusal does: the head assigns another mediator (services.mediator_unavailable)."""
        if task.flow_task.name not in ("mediation", "signing", "performance"):
            return False
        return services.mediator_unavailable(task, reason=reason)
