"""A step's secret inputs (Field(sensitive=True)): the step's own hooks get them whole, while
the task data, the trail and every API answer keep them masked (with a `mask`) or not at all."""

import json

import pytest

from approvals.models import CaseTask
from approvals.spec import Field, kept_values
from tests.helpers import complete, open_tasks, submit
from tests.sample.flows import SampleFlow

PIN = "8675309"
CARD = "6222020200112233445"


def _last4(value):
    return f"***{value[-4:]}"


def test_a_sensitive_value_is_kept_masked_or_not_at_all():
    fields = (
        Field("note", "string", "Note"),
        Field("sample_pin", "string", "PIN", sensitive=True),
        Field("sample_card", "string", "Card", sensitive=True, mask=_last4),
    )
    values = {"note": "ok", "sample_pin": PIN, "sample_card": CARD}
    assert kept_values(fields, values) == {"note": "ok", "sample_card": "***3445"}
    empty = {"sample_pin": "", "sample_card": None}
    assert kept_values(fields, empty) == empty
    with pytest.raises(ValueError):
        Field("sample_card", "string", "Card", mask=_last4)  # a mask without sensitive


@pytest.fixture
def secret_approval(monkeypatch):
    """The sample approval asks for a PIN (kept nowhere) and a card number (kept masked);
    what its on_complete hook got is recorded."""
    node = SampleFlow.instance.node("approval")
    monkeypatch.setattr(
        node,
        "fields",
        (
            *node.fields,
            Field("sample_pin", "string", "PIN", sensitive=True),
            Field("sample_card", "string", "Card", sensitive=True, mask=_last4),
        ),
    )
    seen = []
    monkeypatch.setattr(node, "_on_complete", lambda task, decision, values: seen.append(values))
    return seen


def test_a_sensitive_field_never_appears_in_task_data_trail_or_api(demo, api, secret_approval):
    case = submit("sample", demo.worker1)
    assert complete(api(demo.chair1), open_tasks(case)[0]).status_code == 200
    [task] = open_tasks(case, "approval")
    data = {"approved_amount": "80.00", "sample_pin": PIN, "sample_card": CARD}
    done = complete(api(demo.town_aid1), task, data=data)
    assert done.status_code == 200, done.json()
    # The step's hook got them whole: it keeps them where they belong.
    assert [{k: v[k] for k in ("sample_pin", "sample_card")} for v in secret_approval] == [
        {"sample_pin": PIN, "sample_card": CARD}
    ]
    stored = CaseTask.objects.get(pk=task.pk).data
    assert "sample_pin" not in stored and stored["sample_card"] == "***3445"
    event = case.trail.get(action="task.completed", step="approval")
    assert "sample_pin" not in event.data and event.data["sample_card"] == "***3445"
    answers = [
        done.content.decode(),
        api(demo.town_aid1).get(f"/api/v1/tasks/{task.pk}/").content.decode(),
        api(demo.town_aid1).get("/api/v1/tasks/?view=archive").content.decode(),
        api(demo.county_auditor).get(f"/api/v1/cases/{case.pk}/trail/").content.decode(),
        api(demo.worker1).get(f"/api/v1/cases/{case.pk}/").content.decode(),
        json.dumps(list(case.trail.values_list("data", flat=True))),
    ]
    for text in answers:
        assert PIN not in text and CARD not in text


def test_an_open_task_says_which_fields_are_secret(demo, api, browser_client, secret_approval):
    """A client learns from the task which inputs to keep out of autofill and history; the
    page does so itself."""
    case = submit("sample", demo.worker1)
    assert complete(api(demo.chair1), open_tasks(case)[0]).status_code == 200
    [task] = open_tasks(case, "approval")
    fields = api(demo.town_aid1).get(f"/api/v1/tasks/{task.pk}/").json()["fields"]
    secret = {f["name"] for f in fields if f.get("sensitive")}
    assert secret == {"sample_pin", "sample_card"} and "approved_amount" in {
        f["name"] for f in fields
    }
    page = browser_client(demo.town_aid1).get(f"/tasks/{task.pk}/").content.decode()
    for name in ("sample_pin", "sample_card"):
        [tag] = [t for t in page.split("<input")[1:] if f'name="data_{name}"' in t]
        assert 'autocomplete="off"' in tag.split(">")[0]
    [amount] = [t for t in page.split("<input")[1:] if 'name="data_approved_amount"' in t]
    assert "autocomplete" not in amount.split(">")[0]
