from datetime import timedelta

import time_machine
from django.utils import timezone

from cases import trail
from cases.services import submit_case
from tests.helpers import open_task
from workflows.tasks import fire_timers


def test_viewflow_timer_firing_is_recorded_and_continues_the_flow(demo):
    worker = demo.worker1
    case = submit_case(
        process="waiting_sample",
        organization=demo.org("东湖机械厂工会"),
        applicant=worker,
        submitted_by=worker,
    )
    assert not case.tasks.filter(flow_task_type="HUMAN").exists()
    assert fire_timers.run() == {"timers": 0, "conditions": 0}  # not due yet

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        assert fire_timers.run()["timers"] == 1
        assert fire_timers.run()["timers"] == 0  # a second beat run fires nothing twice

    assert open_task(case).flow_task.name == "review"
    actions = list(case.trail.order_by("seq").values_list("action", "step"))
    assert ("task.done", "cooling_off") in actions
    assert actions[-1] == ("task.created", "review")
    assert trail.verify(case).valid
