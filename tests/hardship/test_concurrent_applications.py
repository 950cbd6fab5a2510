"""Duplicate checks keyed by identifiers several accounts may give (a child's resident ID given
by both parents; one resident ID under two accounts) hold when the submissions arrive at the
same moment: real threads, each with its own database connection, released by a barrier. The
second submission gets the 409 it gets when the two come one after the other."""

from collections import Counter

import pytest

from cases.hardship.models import HardshipApplication
from cases.models import Case
from tests.hardship.helpers import URL, application, ric_number
from tests.helpers import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post(api, user, body):
    client = api(user)
    return lambda: client.post(URL, body, format="json")


def _outcome(responses):
    return Counter(
        (r.status_code, r.json().get("code") if r.status_code >= 400 else None) for r in responses
    )


def test_both_parents_apply_for_one_child_at_once(demo, api):
    """Education aid at most once per child per year (DOMAIN.md), even when both parents
    apply in the same moment from their own accounts."""
    child = {"child_name": "小红", "child_id_number": ric_number(70, birth="20080101")}
    father = application(aid_type="education", id_number=ric_number(1), **child)
    mother = application(aid_type="education", id_number=ric_number(2), **child)
    responses = race([_post(api, demo.worker1, father), _post(api, demo.worker2, mother)])
    assert _outcome(responses) == {(201, None): 1, (409, "education_once_per_year"): 1}
    assert HardshipApplication.objects.filter(aid_type="education").count() == 1
    assert Case.objects.count() == 1


def test_one_resident_id_under_two_accounts_at_once(demo, api):
    """One open case per person and aid type: the person is their resident ID number, so two
    accounts giving the same one at once get one case between them."""
    same_person = application(id_number=ric_number(1))
    responses = race([_post(api, demo.worker1, same_person), _post(api, demo.worker2, same_person)])
    assert _outcome(responses) == {(201, None): 1, (409, "duplicate_open_application"): 1}
    assert HardshipApplication.objects.count() == 1
    assert Case.objects.count() == 1
