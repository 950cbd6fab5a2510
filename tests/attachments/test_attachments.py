"""Attachments: typed by content (PDF, JPEG, PNG), size-limited by configuration, stored under
a random name with their SHA-256, recorded in the trail, and served only within reach."""

import hashlib
import struct
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.attachments.content import safe_filename, sniff
from cases.attachments.models import Attachment
from core.models import Parameter
from tests.hardship.helpers import (
    approve,
    investigate,
    open_tasks,
    pay,
    post,
    ric_number,
    submit,
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\x00" * 64
    + b"\xff\xd9"
)


def png():
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 100


def upload(client, case, content, name="scan.pdf", kind="id_card", claimed="application/pdf"):
    return client.post(
        f"/api/v1/cases/{case.pk}/attachments/",
        {"kind": kind, "file": SimpleUploadedFile(name, content, claimed)},
        format="multipart",
    )


@pytest.fixture
def case(demo, api):
    return submit(api, demo.worker1)


def test_a_pdf_is_stored_under_a_random_name_with_its_fingerprint(demo, api, case, media_root):
    response = upload(api(demo.worker1), case, PDF, name="身份证 正面.pdf")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "id_card" and body["content_type"] == "application/pdf"
    assert body["filename"] == "身份证 正面.pdf" and body["size"] == len(PDF)
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["uploaded_by"]["username"] == "worker1"
    stored = Attachment.objects.get()
    path = Path(stored.file.path)
    assert path.is_relative_to(media_root) and path.read_bytes() == PDF
    assert "身份证" not in path.name and path.suffix == ".pdf" and len(path.stem) == 32
    event = case.trail.get(action="attachment.uploaded")
    assert event.actor == demo.worker1
    assert event.data == {
        "attachment": stored.pk,
        "kind": "id_card",
        "filename": "身份证 正面.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }


def test_jpeg_and_png_are_accepted(demo, api, case):
    client = api(demo.worker1)
    assert upload(client, case, JPEG, name="a.jpg", claimed="image/jpeg").json()[
        "content_type"
    ] == ("image/jpeg")
    assert upload(client, case, png(), name="b.png", claimed="image/png").json()[
        "content_type"
    ] == ("image/png")


def test_the_type_is_decided_by_the_content_not_the_name(demo, api, case):
    """A PNG sent as `scan.pdf` with a PDF content type is a PNG: accepted as one, and it
    downloads as `scan.png`."""
    response = upload(api(demo.worker1), case, png(), name="scan.pdf", claimed="application/pdf")
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"
    download = api(demo.worker1).get(response.json()["download_url"])
    assert download["Content-Type"] == "image/png"
    assert 'filename="scan.png"' in download["Content-Disposition"]


@pytest.mark.parametrize(
    ("content", "name", "claimed"),
    [
        (EXE, "invoice.pdf", "application/pdf"),  # a program renamed
        (b"<html><script>alert(1)</script></html>", "x.pdf", "application/pdf"),
        (b"GIF89a\x01\x00\x01\x00", "photo.png", "image/png"),
        (b"PK\x03\x04" + b"\x00" * 30, "form.pdf", "application/pdf"),  # a zip / docx
        (b"just text", "notes.txt", "text/plain"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "broken.png", "image/png"),  # no image header
        (b"", "empty.pdf", "application/pdf"),
    ],
)
def test_other_content_is_refused(demo, api, case, content, name, claimed):
    response = upload(api(demo.worker1), case, content, name=name, claimed=claimed)
    assert response.status_code == 400
    assert "file" in response.json()["fields"]
    assert Attachment.objects.count() == 0
    assert not case.trail.filter(action="attachment.uploaded").exists()


def test_kind_and_file_are_required(demo, api, case):
    client = api(demo.worker1)
    wrong = upload(client, case, PDF, kind="selfie")
    assert wrong.status_code == 400 and "kind" in wrong.json()["fields"]
    missing = client.post(
        f"/api/v1/cases/{case.pk}/attachments/", {"kind": "other"}, format="multipart"
    )
    assert missing.status_code == 400 and "file" in missing.json()["fields"]
    # Multipart only: a JSON body is not a file upload.
    as_json = client.post(f"/api/v1/cases/{case.pk}/attachments/", {"kind": "other"}, format="json")
    assert as_json.status_code == 415


def test_the_size_limit_is_configuration(demo, api, case):
    big = PDF + b"0" * (1024 * 1024)  # just over 1 MB
    client = api(demo.worker1)
    assert upload(client, case, big).status_code == 201  # default limit: 10 MB
    Parameter.objects.create(
        key="hardship.attachment_max_mb",
        organization=demo.org("东湖镇总工会"),
        effective_from=date(2020, 1, 1),
        value=Decimal("1"),
    )
    refused = upload(client, case, big)
    assert refused.status_code == 400
    assert refused.json()["fields"]["file"] == ["文件大小超过1 MB。"]  # the default language
    assert upload(client, case, PDF).status_code == 201


def test_over_ten_megabytes_is_refused_by_default(demo, api, case):
    response = upload(api(demo.worker1), case, PDF + b"0" * (10 * 1024 * 1024))
    assert response.status_code == 400 and "file" in response.json()["fields"]


def test_who_may_upload(demo, api, case):
    # Out of reach: nothing to see.
    assert upload(api(demo.worker2), case, PDF).status_code == 404
    assert upload(api(demo.xs_aid1), case, PDF).status_code == 404
    # In reach but not acting on the case.
    assert upload(api(demo.county_auditor), case, PDF).status_code == 403
    assert upload(api(demo.chair1), case, PDF).status_code == 403
    # Once the chair has the task, they act on it.
    [task] = open_tasks(case)
    post(api(demo.chair1), f"/api/v1/tasks/{task.pk}/claim/")
    assert upload(api(demo.chair1), case, PDF, kind="other").status_code == 201


def test_after_the_case_ends_only_acting_officers_add_files(demo, api, case):
    approve(api, demo.chair1, case, "grassroots_review")
    investigate(api, demo, case)
    approve(api, demo.town_aid1, case, "town_review")
    assert pay(api, demo.town_finance, case).status_code == 200
    closed = upload(api(demo.worker1), case, PDF)
    assert closed.status_code == 409 and closed.json()["code"] == "case_closed"
    # The finance officer adds the payment voucher afterwards.
    assert (
        upload(api(demo.town_finance), case, JPEG, name="voucher.jpg", kind="other").status_code
        == 201
    )


def test_a_chair_who_submitted_for_a_member_may_upload(demo, api):
    case = submit(api, demo.chair1, on_behalf_of="worker2", id_number=ric_number(2))
    assert upload(api(demo.chair1), case, PDF).status_code == 201
    assert upload(api(demo.worker2), case, PDF).status_code == 201


def test_list_and_download_within_reach_only(demo, api, case):
    created = upload(api(demo.worker1), case, PDF, name="proof.pdf", kind="income_proof").json()
    listed = api(demo.county_auditor).get(f"/api/v1/cases/{case.pk}/attachments/")
    assert listed.status_code == 200
    assert [(a["id"], a["filename"]) for a in listed.json()["results"]] == [
        (created["id"], "proof.pdf")
    ]
    download = api(demo.county_auditor).get(created["download_url"], HTTP_ACCEPT="application/pdf")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment;")
    for outsider in (demo.xs_aid1, demo.worker2):
        assert api(outsider).get(created["download_url"]).status_code == 404
        assert api(outsider).get(f"/api/v1/cases/{case.pk}/attachments/").status_code == 404
    assert api(demo.worker1).get("/api/v1/attachments/99999/download/").status_code == 404


def test_attachments_survive_as_evidence(demo, api, case):
    """The file on disk is what was fingerprinted at upload."""
    created = upload(api(demo.worker1), case, JPEG, name="a.jpg", claimed="image/jpeg").json()
    stored = Attachment.objects.get(pk=created["id"])
    assert hashlib.sha256(Path(stored.file.path).read_bytes()).hexdigest() == stored.sha256


# --- Content sniffing and file names (units) -------------------------------------------------


def test_sniff():
    assert sniff(PDF[:16]) == "application/pdf"
    assert sniff(JPEG[:16]) == "image/jpeg"
    assert sniff(png()[:16]) == "image/png"
    assert sniff(EXE[:16]) is None
    assert sniff(b"") is None


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\scan.pdf", "scan.pdf"),
        ('a<b>:"|?*.pdf', "a_b______.pdf"),
        ("..hidden.pdf", "hidden.pdf"),
        ("line\nbreak\r.pdf", "line_break_.pdf"),
        ("诊断证明 2026.pdf", "诊断证明 2026.pdf"),
        ("", "file"),
        ("....", "file"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_other_processes_take_no_attachments_until_they_register(demo, api):
    from cases.services import submit_case

    sample = submit_case(
        process="sample",
        organization=demo.org("东湖机械厂工会"),
        applicant=demo.worker1,
        submitted_by=demo.worker1,
    )
    response = upload(api(demo.worker1), sample, PDF)
    assert response.status_code == 403
