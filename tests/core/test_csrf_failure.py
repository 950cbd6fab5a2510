"""A form sent with a stale CSRF token gets a page in the site's layout that says nothing was
saved and links back to the form, not Django's bare page."""

from django.test import Client

from cases.models import Case


def test_a_stale_form_is_refused_with_a_page_that_leads_back(demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.treasurer1)
    body = {"period": "2026-01", "payroll_total": "100000", "headcount": "10", "member_count": "8"}
    response = client.post(
        "/remittance/declare/", body, HTTP_REFERER="http://testserver/remittance/declare/"
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-testid="csrf-failure"' in page and "表单已过期" in page
    assert 'href="http://testserver/remittance/declare/"' in page
    assert not Case.objects.exists()


def test_the_way_back_is_only_to_this_site(demo):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/accounts/login/",
        {"username": "chair1", "password": "x"},
        HTTP_REFERER="https://evil.example/phish",
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-testid="csrf-failure"' in page and "evil.example" not in page
