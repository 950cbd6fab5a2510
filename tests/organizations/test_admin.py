"""The organization tree as the administrator edits it: a union never under a lower level, and
a region code that is one."""

import pytest

from organizations.models import Organization


@pytest.fixture
def admin_client(demo, client):
    client.force_login(demo.admin)
    return client


def _add(client, **fields):
    return client.post("/admin/organizations/organization/add/", fields)


def test_a_union_cannot_be_placed_under_a_lower_level(demo, admin_client):
    factory = demo.org("东湖机械厂工会")
    before = Organization.objects.count()
    refused = _add(
        admin_client,
        name="县总工会",
        kind="county",
        region_code="",
        treebeard_position="sorted-child",
        treebeard_ref_node=factory.pk,
    )
    assert refused.status_code == 200
    assert 'class="errorlist' in refused.content.decode()
    assert Organization.objects.count() == before
    # Beside the factory's union is under the town: a county there is refused too.
    assert (
        _add(
            admin_client,
            name="县总工会",
            kind="county",
            region_code="",
            treebeard_position="sorted-sibling",
            treebeard_ref_node=factory.pk,
        ).status_code
        == 200
    )
    added = _add(
        admin_client,
        name="东湖机械厂工会第一分会",
        kind="grassroots",
        region_code="",
        treebeard_position="sorted-child",
        treebeard_ref_node=factory.pk,
    )
    assert added.status_code == 302
    branch = Organization.objects.get(name="东湖机械厂工会第一分会")
    assert Organization.objects.get_parent(branch) == factory


def test_a_region_code_is_a_division_code(demo, admin_client):
    county = demo.org("示范县总工会")
    for code in ("ABC-notcode", "1101", "11010５"):
        refused = _add(
            admin_client,
            name="北山镇总工会",
            kind="town",
            region_code=code,
            treebeard_position="sorted-child",
            treebeard_ref_node=county.pk,
        )
        assert refused.status_code == 200 and 'class="errorlist' in refused.content.decode()
    assert not Organization.objects.filter(name="北山镇总工会").exists()
    assert (
        _add(
            admin_client,
            name="北山镇总工会",
            kind="town",
            region_code="110105001",
            treebeard_position="sorted-child",
            treebeard_ref_node=county.pk,
        ).status_code
        == 302
    )
