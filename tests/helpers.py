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
