"""An upload racing the applicant's withdrawal: whichever commits first, an applicant's file
never lands on a withdrawn case, and a refused upload leaves no file behind."""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

import cases.attachments.services as attachment_services
from cases import trail
from cases.attachments.models import Attachment
from tests.attachments.test_attachments import PDF
from tests.hardship.helpers import post, submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root):
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def test_an_upload_overtaken_by_the_withdrawal_is_refused(demo, api, monkeypatch, media_root):
    """The upload has passed its first look at the case (in progress) when the applicant's
    withdrawal commits; it then gets what it gets after a withdrawal: 409, nothing kept."""
    case = submit(api, demo.worker1)
    checked, withdrawn = threading.Event(), threading.Event()
    real_read = attachment_services._read

    def read_after_the_withdrawal(file):
        checked.set()
        assert withdrawn.wait(30), "the withdrawal did not happen"
        return real_read(file)

    monkeypatch.setattr(attachment_services, "_read", read_after_the_withdrawal)
    result = {}

    def upload():
        try:
            result["response"] = api(demo.worker1).post(
                f"/api/v1/cases/{case.pk}/attachments/",
                {"kind": "id_card", "file": SimpleUploadedFile("a.pdf", PDF, "application/pdf")},
                format="multipart",
            )
        except Exception as exc:  # noqa: BLE001  (reported to the test below)
            result["response"] = exc
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert checked.wait(30), "the upload did not start"
        withdrawal = post(api(demo.worker1), f"/api/v1/cases/{case.pk}/withdraw/", {"reason": "x"})
        assert withdrawal.status_code == 200, withdrawal.json()
    finally:
        withdrawn.set()
        thread.join(60)
    assert not thread.is_alive(), "the upload hung"
    response = result["response"]
    assert not isinstance(response, Exception), repr(response)
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "case_closed"
    assert not Attachment.objects.filter(case=case).exists()
    assert stored_files(media_root) == []
    actions = list(case.trail.order_by("seq").values_list("action", flat=True))
    assert actions[-1] == "case.withdrawn"
    assert "attachment.uploaded" not in actions
    assert trail.verify(case).valid
