"""The organization tree as the administrator edits it: a union never under a lower level, and
a region code that is one."""

import pytest

from organizations.models import Organization


@pytest.fixture
def admin_client(demo, client):
    client.force_login(demo.admin)
    return client


def _add(client, name, kind, ref, *, position="sorted-child", region_code=""):
    return client.post(
        "/admin/organizations/organization/add/",
        {
            "name": name,
            "kind": kind,
            "region_code": region_code,
            "treebeard_position": position,
            "treebeard_ref_node": ref.pk,
        },
    )


def _refused(response):
    return response.status_code == 200 and 'class="errorlist' in response.content.decode()


def test_a_union_cannot_be_placed_under_a_lower_level(demo, admin_client):
    factory = demo.org("东湖机械厂工会")
    before = Organization.objects.count()
    assert _refused(_add(admin_client, "县总工会", "county", factory))
    # Beside the factory's union is under the town: a county there is refused too.
    assert _refused(_add(admin_client, "县总工会", "county", factory, position="sorted-sibling"))
    assert Organization.objects.count() == before
    added = _add(admin_client, "东湖机械厂工会第一分会", "grassroots", factory)
    assert added.status_code == 302
    branch = Organization.objects.get(name="东湖机械厂工会第一分会")
    assert Organization.objects.get_parent(branch) == factory


def test_a_region_code_is_a_division_code(demo, admin_client):
    county = demo.org("示范县总工会")
    for code in ("ABC-notcode", "1101", "11010５"):
        assert _refused(_add(admin_client, "北山镇总工会", "town", county, region_code=code))
    assert not Organization.objects.filter(name="北山镇总工会").exists()
    added = _add(admin_client, "北山镇总工会", "town", county, region_code="110105001")
    assert added.status_code == 302
