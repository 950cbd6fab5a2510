"""The summary costs the same number of queries for few cases or many."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.demo import COUNTY
from reports import selectors
from reports.params import Period
from tests.reports.helpers import at, declare, hardship, mediation, reading, remittance

pytestmark = pytest.mark.django_db


def _queries(organization):
    period = Period(date(2025, 1, 1), date(2026, 12, 31))
    with reading(), CaptureQueriesContext(connection) as captured:
        selectors.summary(organization, period)
    return len(captured.captured_queries)


def test_the_query_count_does_not_grow_with_the_cases(demo, api):
    county = demo.org(COUNTY)
    remittance(api, demo)
    few = _queries(county)
    build_rest(api, demo)
    many = _queries(county)
    assert few == many
    assert many <= 20


def build_rest(api, demo):
    """Everything but remittance, and a year of extra declarations."""
    hardship(api, demo)
    mediation(api, demo)
    for month in range(1, 13):
        with at(3, 1, 9):
            declare(api, demo.treasurer3, f"2025-{month:02d}", "10000.00")
