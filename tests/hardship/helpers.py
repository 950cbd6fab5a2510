"""Shortcuts for the hardship tests (tests/helpers.py is shared and read-only, so what is
needed from it is imported or copied here)."""

from decimal import Decimal

from django.utils import timezone
from stdnum.cn import ric

from approvals.models import CaseTask
from cases.models import Case
from tests.helpers import actions, complete, open_tasks, post  # noqa: F401  (re-exported)
from workflows.tasks import fire_timers

URL = "/api/v1/hardship-applications/"


def ric_number(seq=1, birth="19800101", region="110105"):
    """A valid resident ID number (GB 11643 check digit) for person `seq`."""
    body = f"{region}{birth}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def application(**overrides):
    body = {
        "aid_type": "festival",
        "id_number": ric_number(1),
        "household_size": 3,
        "annual_income": "24000.00",
        "rigid_expenses": "6000.00",
        "requested_amount": "800.00",
        "reason": "Laid off; spouse ill.",
    }
    body.update(overrides)
    return body


def apply(api, user, **overrides):
    """Submit as `user`; returns the response."""
    return post(api(user), URL, application(**overrides))


def submit(api, user, **overrides):
    """Submit and return the Case."""
    response = apply(api, user, **overrides)
    assert response.status_code == 201, response.json()
    return Case.objects.get(pk=response.json()["id"])


def steps(case):
    """Human steps of the case in the order they opened (skipped ones included)."""
    return list(
        CaseTask.objects.filter(case=case, flow_task_type="HUMAN")
        .order_by("created", "pk")
        .values_list("flow_task", "decision")
    )


def step_names(case, *, include_skipped=False):
    names = []
    for ref, decision in steps(case):
        name = ref.name
        if decision == "skipped" and not include_skipped:
            continue
        if decision == "canceled":
            continue
        if not names or names[-1] != name:
            names.append(name)
    return names


def the_task(case, step):
    [task] = open_tasks(case, step)
    return task


def approve(api, user, case, step, decision="approve", **body):
    task = the_task(case, step)
    response = complete(api(user), task, decision, **body)
    assert response.status_code == 200, response.json()
    return response


def investigate(api, demo, case, *, officers=("town_aid1", "town_aid2"), **data):
    visit = data.pop("visit_date", timezone.localdate().isoformat())
    for username, task in zip(officers, open_tasks(case, "investigation"), strict=True):
        response = complete(
            api(demo.user(username)),
            task,
            "approve",
            data={
                "visit_date": visit,
                "verified_income": "24000.00",
                "findings": f"Visited by {username}.",
                **data,
            },
        )
        assert response.status_code == 200, response.json()


def account_of(user):
    """A bank card number of `user`'s own (one per person: 19 digits)."""
    return f"62220202{user.pk:011d}"


def pay(
    api,
    user,
    case,
    *,
    amount=None,
    paid_on=None,
    reference="BANK-0001",
    holder=None,
    account=None,
):
    """Pay into the applicant's own account (held in their registered name) by default."""
    record = case.hardship
    record.refresh_from_db()
    amount = amount or str(record.approved_amount or record.requested_amount)
    return complete(
        api(user),
        the_task(case, "disbursement"),
        "approve",
        data={
            "amount": str(amount),
            "paid_on": paid_on or timezone.localdate().isoformat(),
            "payment_reference": reference,
            "account_holder": case.applicant.full_name if holder is None else holder,
            "account_number": account_of(case.applicant) if account is None else account,
        },
    )


def money(value):
    return Decimal(str(value))


def fire():
    return fire_timers.run()
