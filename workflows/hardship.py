"""困难职工帮扶 — hardship aid (DOMAIN.md A).

Application: grassroots review (chair; may send back to the applicant) → home investigation
(two town aid officers) → public notice (file, education, medical) → town review → county
approval (register cases, or above the threshold) → disbursement (finance of the approving
level) → the applicant is told. A rejection at any level ends the case.

Register review (opened by the beat when an entry's review is due): town review of the entry →
kept, or a closure (退档) notice and the county's approval."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from approvals.calendar import ParameterWorkingDays
from approvals.modes import Countersign
from approvals.nodes import Finish, Step, case_of
from approvals.spec import (
    APPROVE,
    REJECT,
    RETURN,
    Approvers,
    Field,
    case_org,
    org_of_kind,
    parent_org,
)
from cases.hardship import services
from cases.hardship.models import APPROVABLE_CATEGORIES, Kind, ReviewConclusion, mask_account
from workflows.base import CaseFlow, register

# Sanity bounds of an amount an officer enters (not policy thresholds: those are parameters).
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000")


REVIEW_DAYS = ParameterWorkingDays("hardship.review_working_days")

APPROVAL_FIELDS = (
    Field(
        "approved_amount",
        "decimal",
        _("Approved amount (empty: as proposed)"),
        required=False,
        min_value=MIN_AMOUNT,
        max_value=MAX_AMOUNT,
    ),
    Field(
        "category",
        "choice",
        _("Category approved (empty: as proposed)"),
        required=False,
        choices=APPROVABLE_CATEGORIES,
    ),
)


@register
class HardshipFlow(CaseFlow):
    process_name = "hardship"
    number_prefix = "KN"

    start = flow.StartHandle(this.start_case).Annotation(title=_("Application")).Next(this.route)
    route = (
        flow.If(this.is_register_review)
        .Annotation(title=_("Review of a register entry?"))
        .Then(this.register_review)
        .Else(this.grassroots_review)
    )

    # --- Application ------------------------------------------------------------------------
    grassroots_review = (
        Step(
            _("Grassroots review"),
            approvers=Approvers("chair", at=case_org),
            decisions=(APPROVE, REJECT, RETURN),
            due=REVIEW_DAYS,
            # The chair's own application (no chair may act): the town's aid officers review
            # it; they are also told when the review is overdue.
            escalate_to=Approvers("aid_officer", at=parent_org),
        )
        .Next(this.investigation)
        .OnReject(this.rejected)
    )
    investigation = (
        Step(
            _("Home investigation"),
            approvers=Approvers("aid_officer", at=parent_org),
            mode=Countersign(slots=2),
            fields=(
                Field("visit_date", "date", _("Visit date")),
                Field(
                    "verified_income",
                    "decimal",
                    _("Verified annual household income"),
                    max_value=MAX_AMOUNT,
                ),
                Field("findings", "text", _("Findings")),
            ),
            due=ParameterWorkingDays("hardship.investigation_working_days"),
            level="town",
            validate=this.check_investigation,
        )
        .Next(this.notice_needed)
        .OnReject(this.rejected)
    )
    notice_needed = (
        flow.If(this.needs_public_notice)
        .Annotation(title=_("Public notice needed?"))
        .Then(this.public_notice)
        .Else(this.town_review)
    )
    public_notice = (
        flow.Timer(delay=this.notice_end)
        .Annotation(title=_("Public notice"))
        .Next(this.town_review)
    )
    town_review = (
        Step(
            _("Town review"),
            approvers=Approvers("aid_officer", at=parent_org),
            fields=APPROVAL_FIELDS,
            due=REVIEW_DAYS,
            # The investigators work for the same (town) level and may do the town review;
            # separation of duties holds between the grassroots, town and county levels.
            level="town",
            validate=this.check_approval,
            on_complete=this.record_approval,
        )
        .Next(this.county_approval)
        .OnReject(this.rejected)
    )
    county_approval = (
        Step(
            _("County approval"),
            approvers=Approvers("aid_officer", at=org_of_kind("county")),
            required_when=services.county_approval_needed,
            fields=APPROVAL_FIELDS,
            due=REVIEW_DAYS,
            level="county",
            validate=this.check_approval,
            on_complete=this.record_approval,
        )
        .Next(this.disbursement)
        .OnReject(this.rejected)
    )
    disbursement = Step(
        _("Disbursement"),
        approvers=Approvers("finance_officer", at=services.disbursing_organization),
        decisions=(APPROVE,),
        fields=(
            Field(
                "amount",
                "decimal",
                _("Amount paid"),
                min_value=MIN_AMOUNT,
                max_value=MAX_AMOUNT,
            ),
            Field("paid_on", "date", _("Date paid")),
            Field("payment_reference", "string", _("Payment reference")),
            # 实名制: the applicant's own account, checked by check_disbursement. Its number is
            # kept whole on the record only (encrypted), masked as banks print it elsewhere.
            Field("account_holder", "string", _("Account holder (the applicant's full name)")),
            Field(
                "account_number",
                "string",
                _("Account number paid into"),
                sensitive=True,
                mask=mask_account,
            ),
        ),
        due=ParameterWorkingDays("hardship.disbursement_working_days"),
        tells_applicant=True,  # "aid of … paid on …"
        validate=this.check_disbursement,
        on_complete=this.record_disbursement,
    ).Next(this.disbursed)
    disbursed = Finish(_("Aid disbursed"), status="approved", outcome="disbursed")
    rejected = Finish(_("Not approved"), status="rejected", outcome="rejected")

    # --- Register review (档案复核) and closure (退档) ----------------------------------------
    register_review = Step(
        _("Register review"),
        approvers=Approvers("aid_officer", at=parent_org),
        decisions=(APPROVE,),
        fields=(
            Field("conclusion", "choice", _("Conclusion"), choices=ReviewConclusion.choices),
            Field(
                "category",
                "choice",
                _("Category (empty: unchanged)"),
                required=False,
                choices=APPROVABLE_CATEGORIES,
            ),
            Field(
                "verified_income",
                "decimal",
                _("Verified annual household income"),
                required=False,
                max_value=MAX_AMOUNT,
            ),
            Field("findings", "text", _("Findings")),
        ),
        due=REVIEW_DAYS,
        level="town",
        tells_applicant=True,  # kept (next review on …) or proposed for closure (notice)
        validate=this.check_review,
        on_complete=this.record_review,
    ).Next(this.exit_needed)
    exit_needed = (
        flow.If(this.is_exit_proposed)
        .Annotation(title=_("Leaving the register proposed?"))
        .Then(this.exit_notice)
        .Else(this.retained)
    )
    exit_notice = (
        flow.Timer(delay=this.exit_notice_end)
        .Annotation(title=_("Public notice of leaving"))
        .Next(this.exit_approval)
    )
    exit_approval = (
        Step(
            _("County approval of the closure"),
            approvers=Approvers("aid_officer", at=org_of_kind("county")),
            due=REVIEW_DAYS,
            level="county",
            tells_applicant=True,  # closed on …, or kept (next review on …)
            on_complete=this.record_exit_decision,
        )
        .Next(this.exited)
        .OnReject(this.retained)
    )
    retained = Finish(_("Kept in the register"), status="approved", outcome="retained")
    exited = Finish(_("Left the register"), status="closed", outcome="exited")

    # --- Callbacks: each delegates to cases.hardship.services --------------------------------
    def is_register_review(self, activation):
        return services.record_of(case_of(activation.process)).kind == Kind.REVIEW

    def needs_public_notice(self, activation):
        return services.public_notice_needed(case_of(activation.process))

    def notice_end(self, activation):
        return services.start_notice(
            case_of(activation.process),
            parameter_key="hardship.notice_working_days",
            step="public_notice",
        )

    def is_exit_proposed(self, activation):
        return services.exit_proposed(case_of(activation.process))

    def exit_notice_end(self, activation):
        return services.start_notice(
            case_of(activation.process),
            parameter_key="hardship.exit_notice_working_days",
            step="exit_notice",
        )

    def check_investigation(self, task, decision, values, comment):
        return services.check_investigation(task, decision, values, comment)

    def check_approval(self, task, decision, values, comment):
        return services.check_approval(task, decision, values, comment)

    def record_approval(self, task, decision, values):
        services.record_approval(task, decision, values)

    def check_disbursement(self, task, decision, values, comment):
        return services.check_disbursement(task, decision, values, comment)

    def record_disbursement(self, task, decision, values):
        services.record_disbursement(task, decision, values)

    def check_review(self, task, decision, values, comment):
        return services.check_review(task, decision, values, comment)

    def record_review(self, task, decision, values):
        services.record_review(task, decision, values)

    def record_exit_decision(self, task, decision, values):
        services.record_exit_decision(task, decision, values)

    def can_withdraw(self, case):
        """Until the aid is paid; a register review is not the member's to withdraw."""
        record = services.record_of(case)
        return record.kind != Kind.REVIEW and record.disbursed_on is None
