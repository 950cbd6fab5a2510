from celery import shared_task
from viewflow.workflow.timers import fire_due_conditions, fire_due_timers


@shared_task
def fire_timers():
    """viewflow's database timers and conditional events, run from the same beat as the
    rest of the periodic work. Each task is re-checked under its flow lock, so overlapping
    runs fire nothing twice."""
    return {"timers": fire_due_timers(), "conditions": fire_due_conditions()}
