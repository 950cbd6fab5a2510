import os

import pytest
from rest_framework.test import APIClient

from organizations.demo import seed_demo
from organizations.models import Organization, User


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` skip on SQLite — except in CI, which must run them."""
    from django.conf import settings

    if "postgresql" in settings.DATABASES["default"]["ENGINE"]:
        return
    if os.environ.get("UNIONFLOW_REQUIRE_POSTGRES"):
        raise pytest.UsageError("UNIONFLOW_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture
def demo(db):
    """The demo tree and users of `manage.py seed_demo`."""
    seed_demo()
    return Demo()


class Demo:
    def user(self, username):
        return User.objects.get(username=username)

    def org(self, name):
        return Organization.objects.get(name=name)

    def __getattr__(self, username):
        return self.user(username)


@pytest.fixture
def api():
    """api(user) → an APIClient authenticated as that user (token auth, as a real client)."""
    from rest_framework.authtoken.models import Token

    def make(user=None):
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
