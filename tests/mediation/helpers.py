"""Building blocks of the mediation tests: an application body, and each step through the API
as the people who take it."""

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.timezone import localdate
from pypdf import PdfReader

from cases.models import Case
from organizations.demo import DONGHU
from tests.helpers import complete, open_tasks, post  # noqa: F401  (post: re-exported)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Valid checksums (python-stdnum): two resident ID numbers, two credit codes.
ID_NUMBER = "110105199003071239"
OTHER_ID_NUMBER = "330106198506124569"
CREDIT_CODE = "91330100MA2B3C4D5N"
OTHER_CREDIT_CODE = "9133010071254321XY"


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def body(demo, town=DONGHU, **overrides):
    data = {
        "organization": demo.org(town).pk,
        "channel": "written",
        "applicant_name": "杨工人",
        "applicant_id_number": ID_NUMBER,
        "applicant_phone": "13800138000",
        "employer_name": "东湖机械厂",
        "employer_credit_code": CREDIT_CODE,
        "category": "pay",
        "claim_amount": "8600.00",
        "facts": "拖欠2026年1月至2月工资。",
        "known_on": date(2026, 2, 28).isoformat(),
    }
    data.update(overrides)
    return data


def file(api, user, demo, **overrides):
    return post(api(user), "/api/v1/mediation-cases/", body(demo, **overrides))


def filed(api, user, demo, **overrides):
    response = file(api, user, demo, **overrides)
    assert response.status_code == 201, response.json()
    return Case.objects.get(pk=response.json()["id"])


def task(case, step):
    [one] = open_tasks(case, step)
    return one


def decide(api, user, case, step, decision="submit", **body):
    response = complete(api(user), task(case, step), decision, **body)
    assert response.status_code == 200, response.json()
    return response


def accept(api, demo, case):
    return decide(api, demo.med_head, case, "acceptance", "approve")


def assign(api, demo, case, mediator="mediator1"):
    return decide(api, demo.med_head, case, "assignment", data={"mediator": mediator})


def session(api, user, case, **overrides):
    data = {
        "date": localdate().isoformat(),
        "attendees": ["杨工人", "东湖机械厂 王经理"],
        "notes": "双方陈述。",
    }
    data.update(overrides)
    return post(api(user), f"/api/v1/mediation-cases/{case.pk}/sessions/", data)


AGREEMENT = {
    "outcome": "agreement",
    "terms": "被申请人向申请人支付拖欠工资。",
    "amount": "8000.00",
    "performance_deadline": "2026-03-20",
    "performance_method": "银行转账",
}


def agree(api, user, case, **overrides):
    return decide(api, user, case, "mediation", data={**AGREEMENT, **overrides})


def agreed(api, demo, case):
    """A session, then mediator1's agreement, due to be performed in 30 days: its signatures
    await."""
    assert session(api, demo.mediator1, case).status_code == 201
    deadline = (localdate() + timedelta(days=30)).isoformat()
    agree(api, demo.mediator1, case, performance_deadline=deadline)


def sign(api, user, case, party, **extra):
    return post(
        api(user), f"/api/v1/mediation-cases/{case.pk}/signatures/", {"party": party, **extra}
    )


def sign_all(api, demo, case, mediator=None):
    mediator = mediator or demo.mediator1
    for party in ("worker", "employer", "mediator"):
        assert sign(api, mediator, case, party).status_code == 201
    response = sign(api, demo.med_head, case, "seal")
    assert response.status_code == 201, response.json()
    return response


def detail(api, user, case):
    response = api(user).get(f"/api/v1/cases/{case.pk}/")
    assert response.status_code == 200
    return response.json()


def pdf_text(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


def verbs(user, case):
    return set(user.notifications.filter(case=case).values_list("verb", flat=True))
