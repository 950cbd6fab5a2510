"""Hardship pages in the browser (Django's test client): the application form, the case page's
hardship section with its attachments, the public notices and the objection. Each checks
reach on the server and acts through the same services as the API."""

import re
import struct
import zlib
from datetime import timedelta

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from approvals.models import CaseTask
from cases.attachments.models import Attachment
from cases.hardship.models import HardshipApplication, Objection
from cases.models import Case

from .helpers import approve, fire, investigate, open_tasks, pay, ric_number, submit

APPLY = "/hardship/apply/"


def form_body(**overrides):
    body = {
        "aid_type": "festival",
        "id_number": ric_number(1),
        "household_size": "3",
        "annual_income": "24000.00",
        "rigid_expenses": "6000.00",
        "requested_amount": "800.00",
        "reason": "下岗，配偶患病。",
    }
    body.update(overrides)
    return body


def html(response):
    return response.content.decode()


def field_error(page, name):
    """The server's message rendered next to field `name` (core/field.html), or None."""
    match = re.search(rf'<p class="error" id="id_{name}-error">([^<]*)</p>', page)
    return match.group(1) if match else None


def input_tag(page, name):
    """The <input> tag of field `name` on the page."""
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page)
    assert match, name
    return match.group(0)


def png():
    """A real (1×1, grey) PNG image."""

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def upload(client, case, content, *, name="收入证明.png", kind="income_proof", next_url=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = {"kind": kind, "file": SimpleUploadedFile(name, content, content_type="image/png")}
    if next_url:
        body["next"] = next_url
    # The test client sends a dict with a file as multipart/form-data, as the browser form does.
    return client.post(f"/cases/{case.pk}/attachments/", body)


# --- The application form ---------------------------------------------------------------------


def test_apply_form_renders_for_a_phone(demo, browser_client):
    page = html(browser_client(demo.worker1).get(APPLY))
    assert '<form method="post" class="stack"' in page
    # The ID number's format is checked as you type; the checksum on the server.
    assert 'pattern="[0-9]{17}[0-9Xx]"' in input_tag(page, "id_number")
    assert 'id="id_id_number-live-error"' in page
    for name in ("annual_income", "rigid_expenses", "requested_amount", "hardship_costs"):
        assert 'inputmode="decimal"' in input_tag(page, name), name
    assert 'inputmode="numeric"' in input_tag(page, "household_size")
    for name in ("aid_type", "reason", "accident_or_illness", "child_name", "child_id_number"):
        assert f'<label for="id_{name}"' in page, name
    # Only chairs may apply for someone else.
    assert 'name="on_behalf_of"' not in page
    assert 'name="on_behalf_of"' in html(browser_client(demo.chair1).get(APPLY))
    # The apply page offers the form; an officer who is no member is not offered it.
    assert APPLY in html(browser_client(demo.worker1).get("/apply/"))
    assert APPLY not in html(browser_client(demo.town_aid1).get("/apply/"))


def test_a_bad_id_number_is_shown_next_to_the_field_and_nothing_is_created(demo, browser_client):
    client = browser_client(demo.worker1)
    good = ric_number(1)
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post(APPLY, form_body(id_number=wrong_check))
    assert response.status_code == 400
    page = html(response)
    assert field_error(page, "id_number")  # the checksum message, next to the field
    assert "GB 11643" in field_error(page, "id_number")
    assert field_error(page, "household_size") is None
    # What was typed is kept.
    assert f'value="{wrong_check}"' in page and 'value="24000.00"' in page
    # Rules of the aid type, next to their fields too.
    page = html(client.post(APPLY, form_body(aid_type="education")))
    assert field_error(page, "child_name") and field_error(page, "child_id_number")
    page = html(client.post(APPLY, form_body(accident_or_illness="on")))
    assert field_error(page, "hardship_costs")
    assert Case.objects.count() == 0 and HardshipApplication.objects.count() == 0


def test_a_good_application_goes_to_its_case_page(demo, browser_client):
    client = browser_client(demo.worker1)
    response = client.post(APPLY, form_body(annual_income="12000.00", rigid_expenses="0"))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert case.applicant == demo.worker1 and case.number.startswith("KN-")
    assert open_tasks(case)[0].flow_task.name == "grassroots_review"
    page = html(client.get(response["Location"]))
    assert case.number in page
    # 12000 / 3 / 12 = 333.33 a month, below the living standard: deep hardship, proposed.
    assert 'data-testid="proposed-category" data-category="deep"' in page
    # The applicant sees their own ID number whole; an auditor sees it masked.
    assert ric_number(1) in page
    audit = html(browser_client(demo.county_auditor).get(response["Location"]))
    assert ric_number(1) not in audit and ric_number(1)[:6] + "********" in audit


def test_a_chair_applies_for_a_member_of_the_union(demo, browser_client):
    client = browser_client(demo.chair1)
    refused = client.post(APPLY, form_body(on_behalf_of="worker3"))  # another union's member
    assert refused.status_code == 403 and Case.objects.count() == 0
    assert 'class="errors"' in html(refused)
    unknown = client.post(APPLY, form_body(on_behalf_of="nobody"))
    assert field_error(html(unknown), "on_behalf_of")
    response = client.post(APPLY, form_body(on_behalf_of="worker2"))
    case = Case.objects.get()
    assert response["Location"] == f"/cases/{case.pk}/"
    assert (case.applicant, case.submitted_by) == (demo.worker2, demo.chair1)


def test_a_second_open_application_is_refused_on_the_form(demo, browser_client):
    client = browser_client(demo.worker1)
    client.post(APPLY, form_body())
    again = client.post(APPLY, form_body())
    assert again.status_code == 409 and Case.objects.count() == 1
    assert Case.objects.get().number in html(again)  # "… Case: KN-…" at the top of the form


# --- Attachments ------------------------------------------------------------------------------


def test_an_uploaded_file_is_listed_and_downloads_within_reach_only(demo, api, browser_client):
    case = submit(api, demo.worker1)
    client = browser_client(demo.worker1)
    page = html(client.get(f"/cases/{case.pk}/"))
    # The upload form of the case page: multipart, with the kinds of the hardship policy.
    assert 'enctype="multipart/form-data"' in page and 'value="income_proof"' in page
    content = png()
    response = upload(client, case, content, next_url=f"/cases/{case.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    attachment = Attachment.objects.get(case=case)
    assert attachment.content_type == "image/png"
    page = html(client.get(f"/cases/{case.pk}/"))
    download = reverse("attachments-download", args=[attachment.pk])
    assert f'href="{download}"' in page and "收入证明.png" in page

    for user in (demo.worker1, demo.chair1, demo.town_aid1, demo.county_auditor):
        got = browser_client(user).get(download)
        assert got.status_code == 200, user.username
        assert b"".join(got.streaming_content) == content
        assert got["Content-Type"] == "image/png"
    for user in (demo.xs_aid1, demo.worker2):
        assert browser_client(user).get(download).status_code == 404, user.username
        assert browser_client(user).get(f"/cases/{case.pk}/attachments/").status_code == 404


def test_a_second_send_of_the_same_upload_form_adds_nothing(demo, api, browser_client):
    """A double tap on a slow phone, or a resend after a timeout: the same rendered form (its
    one-time key) uploads once, and the second send goes where the first went."""
    case = submit(api, demo.worker1)
    client = browser_client(demo.worker1)
    page = html(client.get(f"/cases/{case.pk}/"))
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', page).group(1)
    back = f"/cases/{case.pk}/"

    def send(key):
        body = {
            "kind": "income_proof",
            "file": SimpleUploadedFile("收入证明.png", png(), content_type="image/png"),
            "next": back,
            "form_key": key,
        }
        return client.post(f"/cases/{case.pk}/attachments/", body)

    first, again = send(key), send(key)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == back
    assert Attachment.objects.filter(case=case).count() == 1
    shown = html(client.get(back))
    assert "该表单此前已提交，未重复记录。" in shown
    # A newly rendered form (a new key) is a new upload.
    send("0" * 32)
    assert Attachment.objects.filter(case=case).count() == 2


def test_a_refused_file_is_shown_next_to_the_field(demo, api, browser_client):
    case = submit(api, demo.worker1)
    client = browser_client(demo.worker1)
    response = upload(client, case, b"MZ\x90\x00" + b"\x00" * 100, name="virus.png")
    assert response.status_code == 400
    assert "PNG" in field_error(html(response), "upload_file")
    assert not Attachment.objects.exists()
    # Officers not acting on the case are not offered the form, and cannot post it.
    officer = browser_client(demo.county_auditor)
    assert 'enctype="multipart/form-data"' not in html(officer.get(f"/cases/{case.pk}/"))
    refused = upload(officer, case, png())
    assert refused.status_code == 403 and not Attachment.objects.exists()
    assert 'class="error"' in html(refused)  # the refusal is said, though no form is shown


def test_the_applicant_uploads_no_more_once_the_case_is_closed(demo, api, browser_client):
    case = submit(api, demo.worker1)
    client = browser_client(demo.worker1)
    client.post(f"/cases/{case.pk}/withdraw/", {"reason": "solved"})
    assert 'enctype="multipart/form-data"' not in html(client.get(f"/cases/{case.pk}/"))
    closed = upload(client, case, png())
    assert closed.status_code == 409 and 'class="error"' in html(closed)
    assert not Attachment.objects.exists()


# --- Public notice and objection --------------------------------------------------------------


def on_notice(api, demo):
    case = submit(api, demo.worker1, aid_type="medical", requested_amount="3000.00")
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)
    assert HardshipApplication.objects.get(case=case).notice_ends_at is not None
    return case


OBJECTION_FORM = 'data-testid="objection"'


def test_the_objection_form_is_only_for_members_of_the_union_during_the_notice(
    demo, api, browser_client
):
    case = submit(api, demo.worker1, aid_type="medical", requested_amount="3000.00")
    # Before the notice: nobody is offered the form.
    assert OBJECTION_FORM not in html(browser_client(demo.chair1).get(f"/cases/{case.pk}/"))
    assert browser_client(demo.worker2).get(f"/hardship/notices/{case.pk}/").status_code == 404
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)

    # During the notice. A member of the union finds it in the notices and may object.
    member = browser_client(demo.worker2)
    listing = html(member.get("/hardship/notices/"))
    assert case.number in listing and f'href="/hardship/notices/{case.pk}/"' in listing
    assert OBJECTION_FORM in html(member.get(f"/hardship/notices/{case.pk}/"))
    # The chair is a member too: the case page shows the notice and the form.
    page = html(browser_client(demo.chair1).get(f"/cases/{case.pk}/"))
    assert 'data-state="running"' in page and OBJECTION_FORM in page
    # The applicant sees the notice running, without the form.
    page = html(browser_client(demo.worker1).get(f"/cases/{case.pk}/"))
    assert 'data-state="running"' in page and OBJECTION_FORM not in page
    assert OBJECTION_FORM not in html(
        browser_client(demo.worker1).get(f"/hardship/notices/{case.pk}/")
    )
    # An officer of the town sees the notice on the case page, is not offered the form.
    page = html(browser_client(demo.town_aid1).get(f"/cases/{case.pk}/"))
    assert 'data-state="running"' in page and OBJECTION_FORM not in page
    # A member of another union sees nothing of it.
    other = browser_client(demo.worker3)
    assert case.number not in html(other.get("/hardship/notices/"))
    assert other.get(f"/hardship/notices/{case.pk}/").status_code == 404
    assert other.post(f"/hardship/notices/{case.pk}/", {"reason": "x"}).status_code == 404
    assert not Objection.objects.exists()


def test_an_objection_sends_the_case_back_to_investigation(demo, api, browser_client):
    case = on_notice(api, demo)
    member = browser_client(demo.worker2)
    empty = member.post(f"/hardship/notices/{case.pk}/", {"reason": "  "})
    assert empty.status_code == 400 and field_error(html(empty), "objection_reason")
    assert not Objection.objects.exists()

    response = member.post(f"/hardship/notices/{case.pk}/", {"reason": "他家刚买了新车。"})
    # The member cannot see the case itself: back to the notices, where it is gone.
    assert response.status_code == 302 and response["Location"] == "/hardship/notices/"
    assert case.number not in html(member.get("/hardship/notices/"))
    objection = Objection.objects.get()
    assert (objection.case, objection.objector) == (case, demo.worker2)
    assert [t.flow_task.name for t in open_tasks(case)] == ["investigation", "investigation"]
    assert not CaseTask.objects.filter(
        case=case, flow_task__endswith=".public_notice", status="SCHEDULED"
    ).exists()
    page = html(browser_client(demo.worker1).get(f"/cases/{case.pk}/"))
    assert 'data-step="investigation"' in page and OBJECTION_FORM not in page


def test_the_chair_objects_from_the_case_page(demo, api, browser_client):
    case = on_notice(api, demo)
    chair = browser_client(demo.chair1)
    refused = chair.post(f"/hardship/notices/{case.pk}/", {"reason": "", "from": "case"})
    # Shown again on the case page, the reason next to the field.
    assert refused.status_code == 400 and field_error(html(refused), "objection_reason")
    assert 'data-testid="hardship-panel"' in html(refused)
    response = chair.post(f"/hardship/notices/{case.pk}/", {"reason": "收入不实", "from": "case"})
    assert response["Location"] == f"/cases/{case.pk}/"
    assert Objection.objects.get().objector == demo.chair1
    assert open_tasks(case)[0].flow_task.name == "investigation"


def test_register_entry_is_shown_on_the_case_page(demo, api, browser_client):
    case = submit(api, demo.worker1, aid_type="file", requested_amount="1000.00")
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)
    end = HardshipApplication.objects.get(case=case).notice_ends_at
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        assert fire()["timers"] == 1
        approve(api, demo.town_aid1, case, "town_review")
        approve(api, demo.county_aid, case, "county_approval")
        assert pay(api, demo.county_finance, case).status_code == 200
        page = html(browser_client(demo.worker1).get(f"/cases/{case.pk}/"))
    assert 'data-testid="register-entry"' in page
    assert 'data-state="ended"' in page
