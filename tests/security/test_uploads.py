"""Upload hardening: the size limit holds while the file arrives (nothing past it is kept, in
memory or on disk), file names are made harmless, and files are served only to people who
have the case in reach, as downloads, typed by their content; MEDIA_URL serves nothing."""

from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client

from cases.attachments.content import safe_filename
from cases.attachments.models import Attachment
from core.models import Parameter
from tests.attachments.test_attachments import JPEG, PDF, png
from tests.hardship.helpers import ric_number, submit

MB = 1024 * 1024
CHUNK = 64 * 1024  # Django reads multipart bodies in chunks of this size

received = []


class CountingHandler(FileUploadHandler):
    """Placed before Django's own handlers: records how many bytes of each file were passed
    on to be kept (in memory or a temporary file)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        received.append(0)

    def receive_data_chunk(self, raw_data, start):
        received[-1] += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    settings.FILE_UPLOAD_HANDLERS = [
        "tests.security.test_uploads.CountingHandler",
        *settings.FILE_UPLOAD_HANDLERS,
    ]
    received.clear()
    return tmp_path


def stored_files(tmp_path):
    return [p for p in (tmp_path / "media").rglob("*") if p.is_file()] + [
        p for p in (tmp_path / "upload-tmp").rglob("*") if p.is_file()
    ]


@pytest.fixture
def case(demo, api):
    return submit(api, demo.worker1)


@pytest.fixture
def one_megabyte(demo):
    Parameter.objects.create(
        key="hardship.attachment_max_mb",
        organization=demo.org("东湖镇总工会"),
        effective_from=date(2020, 1, 1),
        value=Decimal("1"),
    )


def upload(client, case, content, name="scan.pdf", kind="id_card", claimed="application/pdf"):
    return client.post(
        f"/api/v1/cases/{case.pk}/attachments/",
        {"kind": kind, "file": SimpleUploadedFile(name, content, claimed)},
        format="multipart",
    )


# --- The size limit, while the file arrives ---------------------------------------------------


def test_an_oversized_file_is_refused_without_being_kept(demo, api, case, one_megabyte, storage):
    response = upload(api(demo.worker1), case, PDF + b"0" * (6 * MB))
    assert response.status_code == 400
    body = response.json()
    assert body["fields"] == {"file": ["文件大小超过1 MB。"]}
    # Of the 6 MB, no more than the limit (and the chunk that crossed it) was passed on to be
    # kept; nothing was stored, and the temporary file is gone.
    assert received and received[0] <= 1 * MB + CHUNK
    assert stored_files(storage) == []
    assert Attachment.objects.count() == 0
    assert not case.trail.filter(action="attachment.uploaded").exists()


def test_a_file_of_exactly_the_limit_is_accepted(demo, api, case, one_megabyte, storage):
    content = PDF + b"0" * (1 * MB - len(PDF))
    response = upload(api(demo.worker1), case, content)
    assert response.status_code == 201, response.json()
    assert response.json()["size"] == 1 * MB
    assert received == [1 * MB]
    [stored] = [p for p in stored_files(storage) if "media" in p.parts]
    assert stored.read_bytes() == content


def test_the_default_limit_holds_while_arriving_too(demo, api, case, storage):
    response = upload(api(demo.worker1), case, PDF + b"0" * (12 * MB))
    assert response.status_code == 400 and "10 MB" in response.json()["fields"]["file"][0]
    assert received[0] <= 10 * MB + CHUNK
    assert stored_files(storage) == []


def test_an_outsider_learns_nothing_from_an_oversized_file(demo, api, case, one_megabyte):
    """Out of reach is 404 whatever the size; the file is not kept either."""
    response = upload(api(demo.xs_aid1), case, PDF + b"0" * (3 * MB))
    assert response.status_code == 404
    assert received[0] <= 1 * MB + CHUNK
    missing = api(demo.worker1).post(
        "/api/v1/cases/999999/attachments/",
        {"kind": "id_card", "file": SimpleUploadedFile("a.pdf", PDF + b"0" * MB)},
        format="multipart",
    )
    assert missing.status_code == 404
    assert received[1] <= CHUNK


def test_the_upload_page_refuses_an_oversized_file_next_to_the_field(
    demo, case, one_megabyte, storage
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.worker1)
    page = client.get(f"/cases/{case.pk}/attachments/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        f"/cases/{case.pk}/attachments/",
        {
            "csrfmiddlewaretoken": token,
            "kind": "id_card",
            "file": SimpleUploadedFile("大文件.pdf", PDF + b"0" * (4 * MB), "application/pdf"),
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "文件大小超过1 MB。" in html and 'data-testid="upload-form"' in html
    assert received[0] <= 1 * MB + CHUNK
    assert stored_files(storage) == [] and Attachment.objects.count() == 0
    # A small file through the same form is stored.
    ok = client.post(
        f"/cases/{case.pk}/attachments/",
        {"csrfmiddlewaretoken": token, "kind": "id_card", "file": SimpleUploadedFile("a.pdf", PDF)},
    )
    assert ok.status_code == 302 and Attachment.objects.count() == 1


def test_the_upload_page_still_checks_csrf(demo, case):
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.worker1)
    response = client.post(
        f"/cases/{case.pk}/attachments/",
        {"kind": "id_card", "file": SimpleUploadedFile("a.pdf", PDF)},
    )
    assert response.status_code == 403
    assert Attachment.objects.count() == 0


def test_a_session_upload_through_the_api_still_checks_csrf(demo, case):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(demo.worker1)
    response = upload(client, case, PDF)
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert Attachment.objects.count() == 0


# --- File names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # right-to-left override: reads "exe.pdf"
        ("scan\u2066\u2069.pdf", "scan.pdf"),  # bidi isolates
        ("a\u200bb\u200d.pdf", "ab.pdf"),  # zero-width characters
        ("\x85next\x9bline.pdf", "_next_line.pdf"),  # C1 control characters
        ("\udcffbroken.pdf", "broken.pdf"),  # a lone surrogate (undecodable bytes)
        ("scan.pdf. . ", "scan.pdf"),  # trailing dots and spaces
        (".htaccess", "htaccess"),
        ("../../../var/www/index.php", "index.php"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("身份证\u3000正面.jpg", "身份证 正面.jpg"),  # ideographic space
        ("困难职工申请表（2026年）.pdf", "困难职工申请表（2026年）.pdf"),
        ("诊" * 200 + ".pdf", "诊" * 116 + ".pdf"),
    ],
)
def test_file_names_are_made_harmless(raw, safe):
    assert safe_filename(raw) == safe


def test_the_stored_path_never_comes_from_the_name(demo, api, case, storage):
    response = upload(
        api(demo.worker1),
        case,
        png(),
        name="../../../etc/cron.d/x\u202egnp.pdf",
        claimed="image/png",
    )
    assert response.status_code == 201, response.json()
    stored = Attachment.objects.get()
    path = Path(stored.file.path)
    assert path.is_relative_to(storage / "media" / "attachments")
    assert len(path.stem) == 32 and path.suffix == ".png"
    assert "cron" not in stored.file.name and "etc" not in stored.file.name
    assert stored.original_name == "xgnp.pdf"
    download = api(demo.worker1).get(response.json()["download_url"])
    assert download["Content-Disposition"] == 'attachment; filename="xgnp.png"'


def test_a_chinese_name_downloads_readable(demo, api, case):
    created = upload(api(demo.worker1), case, PDF, name="诊断证明 2026.pdf").json()
    download = api(demo.worker1).get(created["download_url"])
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert unquote(disposition.split("''", 1)[1]) == "诊断证明 2026.pdf"


# --- Serving files --------------------------------------------------------------------------------


@pytest.fixture
def western_case(demo, api):
    """A case of 西山食品厂工会 (under 西山镇) with a PNG sent as a PDF."""
    case = submit(api, demo.worker4, id_number=ric_number(40))
    created = upload(api(demo.worker4), case, png(), name="收入证明.pdf", claimed="application/pdf")
    assert created.status_code == 201, created.json()
    return case, Attachment.objects.get(pk=created.json()["id"])


@pytest.mark.parametrize("route", ["/api/v1/attachments/{}/download/", "/attachments/{}/download/"])
def test_files_are_served_only_within_reach(demo, api, western_case, route):
    _case, attachment = western_case
    url = route.format(attachment.pk)

    def get(user):
        if route.startswith("/api/"):
            return api(user).get(url)
        client = Client()
        client.force_login(user)
        return client.get(url)

    # The auditor of another town, an officer of another town, a member of another union.
    for outsider in (demo.town_auditor, demo.town_aid1, demo.worker1, demo.chair1):
        assert get(outsider).status_code == 404, outsider.username
    for insider in (demo.worker4, demo.xs_aid1, demo.county_auditor):
        response = get(insider)
        assert response.status_code == 200, insider.username
        # A download, typed by its content (a PNG, whatever its name said), never sniffed.
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "private, no-store"
        assert b"".join(response.streaming_content) == png()
    # Not logged in: no file.
    anonymous = Client().get(url)
    assert anonymous.status_code in (302, 401)


def test_media_url_serves_nothing(demo, western_case):
    _case, attachment = western_case
    assert Path(attachment.file.path).exists()
    client = Client()
    client.force_login(demo.worker4)
    for path in (f"/media/{attachment.file.name}", f"/{attachment.file.name}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert png() not in response.content


@pytest.mark.parametrize(
    ("content", "name", "claimed"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "photo.png",
            "image/png",
        ),
        (b"<!doctype html><script>alert(1)</script>", "scan.jpg", "image/jpeg"),
        (b"GIF89a/*<script>alert(1)</script>*/", "a.png", "image/png"),
        (JPEG[:3] + b"<html>", "tiny.jpg", "image/jpeg"),  # a JPEG marker, then nothing
    ],
)
def test_content_is_sniffed_not_trusted(demo, api, case, content, name, claimed):
    response = upload(api(demo.worker1), case, content, name=name, claimed=claimed)
    if response.status_code == 201:
        # Only what really starts like a JPEG passes, and then only ever as an image download.
        assert response.json()["content_type"] == "image/jpeg"
        download = api(demo.worker1).get(response.json()["download_url"])
        assert download["Content-Type"] == "image/jpeg"
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Disposition"].startswith("attachment;")
    else:
        assert response.status_code == 400 and "file" in response.json()["fields"]


def test_an_oversized_import_is_refused_without_being_kept(demo, api, storage):
    """The remittance import (5 MB at most) holds its limit while the file arrives, too."""
    from cases.remittance.models import ImportJob

    response = api(demo.town_finance).post(
        "/api/v1/fee-remittances/imports/",
        {"file": SimpleUploadedFile("declarations.csv", b"0" * (8 * MB), "text/csv")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"file": ["文件大小超过5 MB。"]}
    assert received and received[0] <= 5 * MB + CHUNK
    assert stored_files(storage) == []
    assert ImportJob.objects.count() == 0
