"""The admin shows hardship records read-only, with ID numbers masked."""

from cases.hardship.models import HardshipApplication

from .helpers import ric_number, submit


def test_admin_pages_render_without_whole_id_numbers(demo, api, client):
    case = submit(api, demo.worker1)
    record = HardshipApplication.objects.get(case=case)
    client.force_login(demo.admin)
    listing = client.get("/admin/hardship/hardshipapplication/")
    detail = client.get(f"/admin/hardship/hardshipapplication/{record.pk}/change/")
    for page in (listing, detail):
        assert page.status_code == 200
        html = page.content.decode()
        assert ric_number(1) not in html and "110105********" in html
    assert client.get("/admin/hardship/registerentry/").status_code == 200
    assert client.get("/admin/hardship/objection/").status_code == 200
    assert client.get("/admin/attachments/attachment/").status_code == 200
