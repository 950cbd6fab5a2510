"""A two-step sample process: the chair reviews, the town aid officer approves."""

from datetime import timedelta

from viewflow import this
from viewflow.workflow import flow

from approvals.nodes import Finish, Step
from approvals.spec import APPROVE, REJECT, RETURN, Approvers, Field, case_org, parent_org
from workflows.base import CaseFlow, register


@register
class SampleFlow(CaseFlow):
    process_name = "sample"
    number_prefix = "SP"

    start = flow.StartHandle(this.start_case).Next(this.review)
    review = (
        Step(
            "Review",
            approvers=Approvers("chair", at=case_org),
            decisions=(APPROVE, REJECT),
            fields=(Field("note", "string", "Note", required=False),),
        )
        .Next(this.approval)
        .OnReject(this.rejected)
    )
    approval = (
        Step(
            "Approval",
            approvers=Approvers("aid_officer", at=parent_org),
            decisions=(APPROVE, REJECT, RETURN),
            fields=(
                Field("approved_amount", "decimal", "Approved amount"),
                Field("visit_date", "date", "Visit date", required=False),
            ),
        )
        .Next(this.approved)
        .OnReject(this.rejected)
        .OnReturn(this.review)
    )
    approved = Finish(status="approved")
    rejected = Finish(status="rejected")


@register
class WaitingSampleFlow(CaseFlow):
    """A cooling-off period (a viewflow timer), then the chair's review."""

    process_name = "waiting_sample"
    number_prefix = "WS"

    start = flow.StartHandle(this.start_case).Next(this.cooling_off)
    cooling_off = flow.Timer(delay=timedelta(days=1)).Next(this.review)
    review = (
        Step("Review", approvers=Approvers("chair", at=case_org))
        .Next(this.approved)
        .OnReject(this.rejected)
    )
    approved = Finish(status="approved")
    rejected = Finish(status="rejected")
