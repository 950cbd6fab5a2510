"""The mediation success rate for reports: effective agreements ÷ closed cases."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from cases.mediation.selectors import success_rate
from cases.mediation.tasks import enforce_statutory_terms
from organizations.demo import COUNTY, DONGHU, XISHAN

from .helpers import agree, at, decide, filed, session, sign_all

pytestmark = pytest.mark.django_db


def _mediated(api, demo, town=DONGHU, worker=None):
    head = demo.med_head if town == DONGHU else demo.xs_med_head
    mediator = "mediator1" if town == DONGHU else "xs_mediator"
    case = filed(api, worker or demo.worker1, demo, town=town)
    decide(api, head, case, "acceptance", "approve")
    decide(api, head, case, "assignment", data={"mediator": mediator})
    session(api, demo.user(mediator), case)
    return case


def test_success_rate(demo, api):
    assert success_rate() is None  # nothing closed yet
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        # 东湖: two agreements performed, one without agreement, one declined (not counted),
        # one agreement in effect but not yet followed up (not closed: not counted).
        for _ in range(2):
            case = _mediated(api, demo)
            agree(api, demo.mediator1, case)
            sign_all(api, demo, case)
            decide(api, demo.mediator1, case, "performance", data={"performance": "performed"})
        case = _mediated(api, demo)
        decide(api, demo.mediator1, case, "mediation", data={"outcome": "no_agreement"})
        declined = filed(api, demo.worker1, demo)
        decide(
            api,
            demo.med_head,
            declined,
            "acceptance",
            "reject",
            comment="x",
            data={"decline_reason": "not_labor_dispute"},
        )
        pending = _mediated(api, demo)
        agree(api, demo.mediator1, pending)
        sign_all(api, demo, pending)
        # 西山: one case left to expire.
        expiring = filed(api, demo.worker4, demo, town=XISHAN)
        decide(api, demo.xs_med_head, expiring, "acceptance", "approve")
    with time_machine.travel(at(2026, 4, 1, 9, 0), tick=False):
        assert enforce_statutory_terms.run()["expired"] == 1

    assert success_rate() == Decimal("0.5000")  # 2 of 4 closed (3 东湖, 1 西山)
    assert success_rate(organization=demo.org(COUNTY)) == Decimal("0.5000")
    assert success_rate(organization=demo.org(DONGHU)) == Decimal("0.6667")
    assert success_rate(organization=demo.org(XISHAN)) == Decimal("0")
    assert success_rate(organization=demo.org(DONGHU), start=date(2026, 3, 3)) is None
    assert success_rate(start=date(2026, 3, 2), end=date(2026, 3, 2)) == Decimal("0.6667")
    assert success_rate(start=date(2026, 4, 1)) == Decimal("0")


def test_success_rate_is_one_query(demo, api, django_assert_num_queries):
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        case = _mediated(api, demo)
        agree(api, demo.mediator1, case)
        sign_all(api, demo, case)
        decide(api, demo.mediator1, case, "performance", data={"performance": "performed"})
    donghu = demo.org(DONGHU)
    with django_assert_num_queries(1):
        assert success_rate(organization=donghu) == Decimal("1.0000")
