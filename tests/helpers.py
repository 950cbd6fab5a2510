from decimal import Decimal

from cases.services import submit_case


def submit_sample(applicant, *, title="Sample", amount="100.00"):
    from organizations.selectors import member_union

    return submit_case(
        process="sample",
        organization=member_union(applicant),
        applicant=applicant,
        submitted_by=applicant,
        title=title,
        amount=Decimal(amount),
    )


def open_task(case):
    return case.tasks.filter(flow_task_type="HUMAN", finished__isnull=True).get()


def submit(process, applicant, *, amount="100.00", title="Test case"):
    from organizations.selectors import member_union

    return submit_case(
        process=process,
        organization=member_union(applicant),
        applicant=applicant,
        submitted_by=applicant,
        title=title,
        amount=Decimal(amount),
    )


def open_tasks(case, step=None):
    qs = case.tasks.filter(flow_task_type="HUMAN", status__in=("NEW", "ASSIGNED", "STARTED"))
    if step:
        qs = qs.filter(flow_task__endswith=f".{step}")
    return list(qs.order_by("position", "pk"))


def post(client, url, body=None):
    return client.post(url, body or {}, format="json")


def complete(client, task, decision="approve", **body):
    return post(client, f"/api/v1/tasks/{task.pk}/complete/", {"decision": decision, **body})


def actions(case):
    return list(case.trail.order_by("seq").values_list("action", flat=True))
