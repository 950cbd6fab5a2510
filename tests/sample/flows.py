"""A two-step sample process: the chair reviews, the town aid officer approves."""

from datetime import timedelta

from viewflow import this
from viewflow.workflow import flow

from approvals.calendar import CalendarDays, WorkingDays
from approvals.modes import AnyOne, Countersign, NOfM, Sequential
from approvals.nodes import Finish, Step
from approvals.spec import (
    APPROVE,
    AUTO_APPROVE,
    AUTO_REJECT,
    REASSIGN_UP,
    REJECT,
    RETURN,
    Approvers,
    Field,
    Users,
    case_org,
    org_of_kind,
    parent_org,
)
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
    approved = Finish("Approved", status="approved")
    rejected = Finish("Rejected", status="rejected")


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
    approved = Finish("Approved", status="approved")
    rejected = Finish("Rejected", status="rejected")


def _users(*usernames):
    from organizations.models import User

    def resolve(case):
        found = {u.username: u for u in User.objects.filter(username__in=usernames)}
        return [found[name] for name in usernames if name in found]

    return resolve


def _above_threshold(case):
    from core.config import parameter

    return case.amount is not None and case.amount > parameter(
        "tests.county_threshold", organization=case.organization
    )


_above_threshold.reason = "amount at or below the county threshold"


@register
class ModesSampleFlow(CaseFlow):
    """Each approval mode in turn: countersign by two town aid officers, or-sign among named
    officers, two of three, then a sequence."""

    process_name = "modes_sample"
    number_prefix = "MS"

    start = flow.StartHandle(this.start_case).Next(this.investigation)
    investigation = (
        Step(
            "Investigation",
            approvers=Approvers("aid_officer", at=parent_org),
            mode=Countersign(slots=2),
            fields=(Field("findings", "text", "Findings"),),
        )
        .Next(this.any_one)
        .OnReject(this.rejected)
    )
    any_one = (
        Step(
            "Any one",
            approvers=Users(_users("town_aid1", "town_aid2", "county_aid"), role="aid_officer"),
            mode=AnyOne(),
            separation_of_duties=False,
        )
        .Next(this.two_of_three)
        .OnReject(this.rejected)
    )
    two_of_three = (
        Step(
            "Two of three",
            approvers=Users(_users("town_aid1", "town_aid2", "county_aid"), role="aid_officer"),
            mode=NOfM(required=2),
            separation_of_duties=False,
        )
        .Next(this.in_sequence)
        .OnReject(this.rejected)
    )
    in_sequence = (
        Step(
            "In sequence",
            approvers=Users(_users("town_aid2", "county_aid"), role="aid_officer"),
            mode=Sequential(),
            separation_of_duties=False,
        )
        .Next(this.approved)
        .OnReject(this.rejected)
    )
    approved = Finish("Approved", status="approved")
    rejected = Finish("Rejected", status="rejected")


@register
class LevelsSampleFlow(CaseFlow):
    """Two levels decided by the same role, the county only above a threshold, with
    deadlines and timeout actions."""

    process_name = "levels_sample"
    number_prefix = "LS"

    start = flow.StartHandle(this.start_case).Next(this.review)
    review = (
        Step("Review", approvers=Approvers("chair", at=case_org), due=WorkingDays(5))
        .Next(this.town_review)
        .OnReject(this.rejected)
    )
    town_review = (
        Step(
            "Town review",
            approvers=Approvers("aid_officer", at=parent_org),
            due=WorkingDays(2),
            on_timeout=REASSIGN_UP,
        )
        .Next(this.town_confirm)
        .OnReject(this.rejected)
    )
    town_confirm = (
        Step(
            "Town confirmation",
            approvers=Approvers("aid_officer", at=parent_org),
            due=CalendarDays(3),
            on_timeout=AUTO_APPROVE,
        )
        .Next(this.county_approval)
        .OnReject(this.rejected)
    )
    county_approval = (
        Step(
            "County approval",
            approvers=Approvers("aid_officer", at=org_of_kind("county")),
            required_when=_above_threshold,
            due=WorkingDays(5),
            on_timeout=AUTO_REJECT,
        )
        .Next(this.approved)
        .OnReject(this.rejected)
    )
    approved = Finish("Approved", status="approved")
    rejected = Finish("Rejected", status="rejected")


@register
class ParallelSampleFlow(CaseFlow):
    """Two approvals in parallel (a viewflow Split), both needed before the case goes on (a
    Join): proves the engine's join fires once when the branches finish at the same moment."""

    process_name = "parallel_sample"
    number_prefix = "PS"

    start = flow.StartHandle(this.start_case).Next(this.split)
    split = flow.Split().Next(this.finance_check).Next(this.aid_check)
    finance_check = (
        Step("Finance check", approvers=Approvers("aid_officer", at=parent_org))
        .Next(this.join)
        .OnReject(this.rejected)
    )
    aid_check = (
        Step("Aid check", approvers=Approvers("aid_officer", at=parent_org))
        .Next(this.join)
        .OnReject(this.rejected)
    )
    join = flow.Join().Next(this.confirmation)
    confirmation = (
        Step("Confirmation", approvers=Approvers("chair", at=case_org), separation_of_duties=False)
        .Next(this.approved)
        .OnReject(this.rejected)
    )
    approved = Finish("Approved", status="approved")
    rejected = Finish("Rejected", status="rejected")
