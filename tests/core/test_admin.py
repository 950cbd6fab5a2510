"""The admin a county's administrator works in: the configuration the README sends them to is
there and checked, and nothing that the trail records can be changed or deleted there."""

from datetime import date
from decimal import Decimal

from approvals.calendar import is_working_day
from approvals.models import CaseTask, WorkingDayOverride
from cases.attachments.models import Attachment
from core.config import parameter
from core.models import Parameter
from tests.helpers import open_tasks, submit


def test_a_parameter_changed_in_the_admin_is_what_the_next_operation_reads(demo, client):
    client.force_login(demo.admin)
    assert client.get("/admin/core/parameter/").status_code == 200
    form = client.get("/admin/core/parameter/add/").content.decode()
    assert "hardship.county_threshold" in form  # offered from the keys the code reads
    added = client.post(
        "/admin/core/parameter/add/",
        {
            "key": "hardship.county_threshold",
            "effective_from": "2000-01-01",
            "value": "8000",
            "note": "县总工会文件",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert parameter("hardship.county_threshold") == Decimal("8000")


def test_the_admin_refuses_a_parameter_the_code_would_never_read(demo, client):
    client.force_login(demo.admin)
    base = {"effective_from": "2000-01-01", "value": "1", "note": ""}
    misspelt = client.post(
        "/admin/core/parameter/add/", {**base, "key": "hardship.county_treshold"}
    )
    negative = client.post(
        "/admin/core/parameter/add/",
        {**base, "key": "hardship.county_threshold", "value": "-5"},
    )
    assert (
        client.post(
            "/admin/core/parameter/add/", {**base, "key": "hardship.county_threshold"}
        ).status_code
        == 302
    )
    again = client.post("/admin/core/parameter/add/", {**base, "key": "hardship.county_threshold"})
    for refused in (misspelt, negative, again):
        assert refused.status_code == 200 and 'class="errorlist' in refused.content.decode()
    assert Parameter.objects.count() == 1


def test_a_holiday_added_in_the_admin_is_a_day_off(demo, client):
    client.force_login(demo.admin)
    assert client.get("/admin/approvals/workingdayoverride/").status_code == 200
    new_year = date(2031, 1, 1)
    was = is_working_day(new_year)
    added = client.post(
        "/admin/approvals/workingdayoverride/add/",
        {"date": "2031-01-01", "is_working_day": "" if was else "on", "note": "元旦"},
    )
    assert added.status_code == 302
    assert WorkingDayOverride.objects.get(date=new_year)
    assert is_working_day(new_year) is not was


def test_viewflows_own_admin_cannot_change_a_live_task(demo, client):
    """viewflow's admin edited and deleted processes and tasks: a task's dates and data were
    changed with no trail event. Only our read-only task admin remains."""
    case = submit("sample", demo.worker1)
    [task] = open_tasks(case)
    client.force_login(demo.admin)
    for path in (
        f"/admin/viewflow/task/{task.pk}/change/",
        f"/admin/viewflow/process/{case.flow_process_id}/change/",
    ):
        assert client.get(path).status_code == 404, path
    view = client.get(f"/admin/approvals/casetask/{task.pk}/change/")
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()
    assert (
        client.post(f"/admin/approvals/casetask/{task.pk}/change/", {"comment": "x"}).status_code
        == 403
    )
    assert CaseTask.objects.get(pk=task.pk).comment == ""


def test_evidence_the_trail_names_cannot_be_deleted_in_the_admin(demo, api, client):
    from tests.hardship.helpers import submit as submit_hardship

    case = submit_hardship(api, demo.worker1)
    response = api(demo.worker1).post(
        f"/api/v1/cases/{case.pk}/attachments/",
        {"kind": "income_proof", "file": _pdf()},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    attachment = Attachment.objects.get(case=case)
    client.force_login(demo.admin)
    assert (
        client.post(
            f"/admin/attachments/attachment/{attachment.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert Attachment.objects.filter(pk=attachment.pk).exists()
    for path in ("/admin/hardship/objection/", "/admin/hardship/registerentry/"):
        assert client.get(path).status_code == 200


def _pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(
        "证明.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "application/pdf"
    )
