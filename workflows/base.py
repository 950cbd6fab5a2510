"""What every process flow shares: the task model, row locking, and the registry that maps a
case's `process` name to its flow and case-number prefix."""

from contextlib import contextmanager

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _
from viewflow.workflow import flow

from approvals.models import CaseTask
from approvals.nodes import Supplement
from core import plans

_registry = {}


class ProcessRowLock:
    """`SELECT … FOR UPDATE` on the process row, held until the surrounding transaction ends.
    viewflow's SelectForUpdateLock does the same inside a nested atomic block — a savepoint
    and its release, two more round trips on every operation — which buys nothing here: our
    services lock once, outermost, and roll the whole transaction back on any error.
    approvals.services.tasks takes the same lock in the statement that finds the task."""

    locks_process_row = True

    @contextmanager
    def __call__(self, flow_class, process_pk):
        # Outside a transaction this starts one, as viewflow's lock does.
        with transaction.atomic(savepoint=False):
            flow_class.process_class._default_manager.filter(pk=process_pk).select_for_update(
                of=("self",)
            ).exists()
            yield


class CaseFlow(flow.Flow):
    """Base of the process flows. Subclasses set `process_name` and `number_prefix` and
    start with `start = flow.StartHandle(this.start_case)`."""

    task_class = CaseTask
    # Blocks on the process row until the holder commits: a second claim then sees the task
    # already taken (409) instead of failing on a lock (PostgreSQL; SQLite serializes writes).
    lock_impl = ProcessRowLock()

    process_name = ""
    number_prefix = ""

    # 补正: where a send-back to the applicant lands, in every process.
    supplement = Supplement(_("Supplement and resubmit"))

    def can_withdraw(self, case):
        """Whether the applicant may still withdraw (processes narrow this, e.g. until
        disbursement)."""
        return True

    def on_withdrawn(self, case):
        """Called in the withdrawal's transaction, for a process to settle its own record."""

    def named_holder_unavailable(self, task, reason):
        """Called by the beat (approvals.services.holders) for a step's task named for someone
        who can no longer act on it, in its transaction under the case's lock: whether the
        process settled it its own way. If not, the task goes to the step's fallback queue."""
        return False

    @classmethod
    def lock_case(cls, case_id):
        """Lock the process of this flow's case `case_id` as `lock` does, until the surrounding
        transaction ends, and let the transaction reuse plans (core.plans: an operation on one
        case finds its rows by key); the process id, or None when there is no such case. On
        PostgreSQL one statement does it all."""
        from cases.models import Case

        if connection.vendor != "postgresql":
            found = (
                Case.objects.filter(pk=case_id, process=cls.process_name)
                .values_list("flow_process_id", flat=True)
                .first()
            )
            if found is not None:
                with cls.lock(found):
                    pass  # held until the transaction ends
            return found
        with_plans = plans.enabled()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT p.id{f', {plans.SETTINGS}' if with_plans else ''}"
                f" FROM {cls.process_class._meta.db_table} p"
                f" JOIN {Case._meta.db_table} c ON c.flow_process_id = p.id"
                " WHERE c.id = %s AND c.process = %s FOR UPDATE OF p",
                [case_id, cls.process_name],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        if with_plans:
            plans.settings_set(row)
        return row[0]

    def start_case(self, activation, *, case):
        """StartHandle callback: link the new viewflow process to its case."""
        activation.process.save()
        case.flow_process = activation.process
        case.save(update_fields=["flow_process"])
        activation.process._unionflow_case = case  # what the flow's nodes read (nodes.case_of)
        return case


def register(flow_class):
    """Class decorator: make a flow available to `cases.services.submit_case`."""
    if not flow_class.process_name or not flow_class.number_prefix:
        raise ValueError(f"{flow_class.__name__} needs process_name and number_prefix")
    _registry[flow_class.process_name] = flow_class
    return flow_class


def flow_for(process_name):
    return _registry[process_name]


def registered():
    return dict(_registry)
