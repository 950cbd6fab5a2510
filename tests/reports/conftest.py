import pytest
from django.db import transaction
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Export files go to a throwaway directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


def _api(user=None):
    from rest_framework.authtoken.models import Token

    client = APIClient()
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture(scope="module")
def known(django_db_setup, django_db_blocker):
    """The known cases of tests/reports/helpers.py, built once per module inside a transaction
    that is rolled back after the module (each test runs in a savepoint within it)."""
    from organizations.demo import seed_demo
    from tests.conftest import Demo
    from tests.reports.helpers import build

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            seed_demo()
            yield build(_api, Demo())
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
