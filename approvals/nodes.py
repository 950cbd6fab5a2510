"""Flow nodes for approval work. A flow declares a `Step` for each decision people take and a
`Finish` for each way a case can end; the behavior behind them lives here, once."""

from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.base import Edge
from viewflow.workflow.nodes.end import EndActivation
from viewflow.workflow.nodes.view import ViewActivation

from .spec import APPROVE, COMMENT_REQUIRED, DECISION_LABELS, REJECT, RETURN


def case_of(process):
    """The case behind a viewflow process, cached on the process instance."""
    case = getattr(process, "_unionflow_case", None)
    if case is None:
        from cases.models import Case

        case = Case.objects.select_related("organization", "applicant").get(
            flow_process_id=process.pk
        )
        process._unionflow_case = case
    return case


class StepActivation(ViewActivation):
    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        from . import services

        case = case_of(prev_activation.process)
        task = flow_task.flow_class.task_class(
            process=prev_activation.process, flow_task=flow_task, token=token, case=case
        )
        task.data = data if data is not None else {}
        task.seed = seed
        task.candidate_organization = flow_task.approvers.organization_for(case)
        task.candidate_role = flow_task.approvers.role
        task._trail_handled = True
        task.save()
        task.previous.add(prev_activation.task)
        activation = cls(task)
        services.task_opened(task, case=case)
        return activation

    @Activation.status.super()
    def create_next(self):
        """Follow the route the decision names; approving follows `.Next()`."""
        target = self.flow_task.route_for(self.task.decision)
        yield target._create(self, self.task.token)


class Step(flow.View):
    """A human step: holders of a role at an organization relative to the case claim the task
    and decide. `.Next()` is where approval leads; `.OnReject()` / `.OnReturn()` name the
    other ways out. Completing takes one of `decisions` and the declared `fields`."""

    activation_class = StepActivation

    def __init__(self, title, *, approvers, decisions=(APPROVE, REJECT), fields=(), **kwargs):
        super().__init__(view=None, **kwargs)
        self.task_title = title
        self.approvers = approvers
        self.decisions = tuple(decisions)
        self.fields = tuple(fields)
        self._routes = {}

    def OnReject(self, node):  # noqa: N802  (viewflow's fluent style)
        self._routes[REJECT] = node
        return self

    def OnReturn(self, node):  # noqa: N802
        self._routes[RETURN] = node
        return self

    def _resolve(self, instance):
        super()._resolve(instance)
        self._routes = {k: this.resolve(instance, v) for k, v in self._routes.items()}
        missing = [d for d in self.decisions if d != APPROVE and d not in self._routes]
        if missing:
            raise ValueError(f"step {self.name!r} allows {missing} but declares no route for it")

    def _outgoing(self):
        yield from super()._outgoing()
        for decision, node in self._routes.items():
            yield Edge(src=self, dst=node, edge_class=f"cond_{decision}")

    def route_for(self, decision):
        return self._routes.get(decision, self._next)

    def decisions_spec(self):
        return [
            {
                "value": d,
                "label": str(DECISION_LABELS[d]),
                "comment_required": d in COMMENT_REQUIRED,
            }
            for d in self.decisions
        ]


class FinishActivation(EndActivation):
    @Activation.status.super()
    def activate(self):
        from cases import services as case_services

        super().activate.original()
        node = self.flow_task
        case_services.finish_case(case_of(self.process), status=node.status, outcome=node.outcome)


class Finish(flow.End):
    """An end of the process that settles the case: its final status and outcome, told to the
    applicant."""

    activation_class = FinishActivation

    def __init__(self, *, status, outcome=""):
        super().__init__()
        self.status = status
        self.outcome = outcome or status
