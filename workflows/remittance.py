"""Fee remittance (工会经费上解): the treasurer declares the month's payroll, the chair approves
the declaration, the treasurer records the payment of the upper share, and the parent
organization's finance officer verifies the receipt (or returns it, e.g. for an amount
mismatch). DOMAIN.md section C."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from approvals.calendar import WorkingDays
from approvals.nodes import Finish, Step
from approvals.spec import APPROVE, REJECT, RETURN, SUBMIT, Approvers, Field, case_org, parent_org
from cases.models import CaseStatus
from cases.remittance import services
from workflows.base import CaseFlow, register


@register
class RemittanceFlow(CaseFlow):
    """Fee remittance"""

    process_name = "remittance"
    number_prefix = "JF"

    start = (
        flow.StartHandle(this.start_case)
        .Annotation(title=_("Declaration"))
        .Next(this.chair_approval)
    )
    chair_approval = (
        Step(
            _("Approve the declaration"),
            approvers=Approvers("chair", at=case_org),
            decisions=(APPROVE, REJECT),
            due=WorkingDays(3),
            # A chair who declared as the union's treasurer too may not approve it: the
            # parent's finance officers do, and are told when the approval is overdue.
            escalate_to=Approvers("finance_officer", at=parent_org),
            on_complete=this.tell_union,
        )
        .Next(this.payment)
        .OnReject(this.void_declaration)
    )
    payment = Step(
        _("Record the payment"),
        approvers=Approvers("treasurer", at=case_org),
        decisions=(SUBMIT,),
        fields=(
            Field("paid_amount", "decimal", _("Amount paid")),
            Field("paid_on", "date", _("Date paid")),
            Field("bank_reference", "string", _("Bank reference"), max_length=100),
        ),
        # The treasurer who declared is expected to pay: recording facts is not a decision.
        separation_of_duties=False,
        applicant_may_act=True,
        allow_send_back=False,
        validate=this.check_payment,
        on_complete=this.record_payment,
    ).Next(this.verification)
    verification = (
        Step(
            _("Verify the receipt"),
            approvers=Approvers("finance_officer", at=parent_org),
            decisions=(APPROVE, RETURN),
            due=WorkingDays(5),
            on_complete=this.record_verification,
            # Only `return` goes back (it clears the payment): a send-back would leave the
            # returned payment counting as paid, or reopen the approval a supplement rests on.
            allow_send_back=False,
        )
        .Next(this.verified)
        .OnReturn(this.payment)
    )
    void_declaration = (
        flow.Function(this.release_period)
        .Annotation(title=_("Declaration voided"))
        .Next(this.rejected)
    )
    verified = Finish(_("Payment verified"), status=CaseStatus.CLOSED, outcome="verified")
    rejected = Finish(_("Not approved"), status=CaseStatus.REJECTED)

    # --- what the steps write into the declaration ---------------------------------------

    def check_payment(self, task, decision, values, comment):
        errors = services.check_payment(task.case, values)
        paid_on = values.get("paid_on")
        if paid_on and paid_on > timezone.localdate().isoformat():
            errors["data.paid_on"] = [_("Cannot be in the future.")]
        if not str(values.get("bank_reference", "")).strip():
            errors["data.bank_reference"] = [_("This field is required.")]
        return errors

    def record_payment(self, task, decision, values):
        services.record_payment(task.case, values)
        self.tell_union(task, decision, values)

    def record_verification(self, task, decision, values):
        if decision == APPROVE:
            services.confirm_receipt(task.case)
        elif decision == RETURN:
            services.return_payment(task.case)
        self.tell_union(task, decision, values)

    def tell_union(self, task, decision, values):
        services.tell_union(task, decision)

    def release_period(self, activation):
        services.void(activation.process.case)

    def can_withdraw(self, case):
        """Until the payment is recorded, and not under a supplementary declaration."""
        return services.may_withdraw(case)

    def on_withdrawn(self, case):
        services.void(case)
