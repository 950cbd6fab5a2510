"""Flow nodes for approval work. A flow declares a `Step` for each decision people take and a
`Finish` for each way a case can end; the behavior behind them (modes, eligibility, deadlines,
send back …) lives in approvals.services, once."""

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.base import Edge
from viewflow.workflow.nodes.end import EndActivation
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.status import STATUS

from .modes import Single
from .spec import (
    APPROVE,
    COMMENT_REQUIRED,
    DECISION_LABELS,
    REJECT,
    RESUBMIT,
    RETURN,
    SKIPPED,
    TIMEOUT_ACTIONS,
    Approvers,
    Users,
)


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
    outcome = None

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        from . import services

        task = services.open_round(flow_task, prev_activation, token, data=data or {})
        return cls(task)

    @Activation.status.super()
    def activate(self):
        """A step the case does not need (below its threshold) passes straight on."""
        if self.task.decision == SKIPPED:
            self.task.status = STATUS.STARTED

    @Activation.status.super()
    def execute(self):
        """Record this task as done; move on only when the round is decided."""
        from . import services

        self.complete()
        self.outcome = services.round_outcome_after(self.task)
        if self.outcome is not None:
            self.activate_next()

    @Activation.status.super()
    def create_next(self):
        from . import services

        decision = self.outcome or self.task.decision
        if decision == RETURN and RETURN not in self.flow_task._routes:
            # No route declared: returning means asking the applicant to supplement (补正).
            yield services.open_supplement(self, return_to=self.flow_task)
            return
        yield self.flow_task.route_for(decision)._create(self, self.task.token)


class Step(flow.View):
    """A human step. `approvers` says who acts (`Approvers(role, at=…)` or `Users(…)`), `mode`
    how their decisions add up (Single, Countersign, AnyOne, NOfM, Sequential). `.Next()` is
    where approval leads; `.OnReject()` / `.OnReturn()` name the other ways out (a return
    without a route goes back to the applicant). Optional: `due` (WorkingDays / CalendarDays),
    `on_timeout` (auto_approve, auto_reject, reassign_up), `required_when` (a predicate on the
    case — e.g. an amount above a configured threshold; otherwise the step is skipped),
    `escalate_to` (who decides when nobody at the first level may, and who is told when the
    step is overdue), `separation_of_duties` (on: whoever decided a step of another approval
    level of the case may not act here), `level` (the approval level the step decides at,
    e.g. "town": steps of one level may be decided by the same people — the investigators
    may do the town review —, steps of different levels may not; default: the step is a level
    of its own), `eligibility` (a check `(case, user) -> why they may not act here, or None`
    beyond role, own case and separation of duties — e.g. a mediator recused from the case —,
    asked of everyone given the step's tasks, their delegates included, and again when they
    act), `eligible_q` (the same check as a filter: `user -> Q` over cases, those where the
    check lets `user` act; with it a queue leaves out the step's tasks the user may not take —
    without it they are listed and refused on claim. It must agree with `eligibility`: the
    test suite compares the queue with the check on every task it shows or acts on),
    `applicant_may_act` (off: nobody acts on their own case; on for steps that only record
    facts, such as a payment), `officer_operations` (on: its assignee may transfer 转交, add
    approvers 加签, send back 退回, CC 抄送 and release it; off for a step that is one
    person's own, such as the applicant's supplement), `tells_applicant` (off: the applicant
    is told "step: decision" when it is decided; on for a step whose `on_complete` tells them
    in its own words, such as a mediation's acceptance — once is enough), `send_back_target`
    (on: a later step may send the case back here; off for a decision that is not retaken,
    such as accepting a mediation application — an accepted case is not then declined)."""

    activation_class = StepActivation

    def __init__(
        self,
        title,
        *,
        approvers,
        mode=None,
        decisions=(APPROVE, REJECT),
        fields=(),
        due=None,
        on_timeout=None,
        required_when=None,
        escalate_to=None,
        separation_of_duties=True,
        level=None,
        eligibility=None,
        eligible_q=None,
        applicant_may_act=False,
        allow_send_back=True,
        send_back_target=True,
        officer_operations=True,
        tells_applicant=False,
        validate=None,
        on_complete=None,
        **kwargs,
    ):
        super().__init__(view=None, **kwargs)
        if on_timeout is not None and on_timeout not in TIMEOUT_ACTIONS:
            raise ValueError(f"on_timeout must be one of {TIMEOUT_ACTIONS}")
        if on_timeout is not None and due is None:
            raise ValueError("on_timeout needs a due period")
        if eligible_q is not None and eligibility is None:
            raise ValueError("eligible_q is the queue's form of an eligibility check")
        self.task_title = title
        self.approvers = approvers
        self.mode = mode or Single()
        self.decisions = tuple(decisions)
        self.fields = tuple(fields)
        self.due = due
        self.on_timeout = on_timeout
        self.required_when = required_when
        self.escalate_to = escalate_to
        self.separation_of_duties = separation_of_duties
        self.level = level
        self.eligibility = eligibility
        self.eligible_q = eligible_q
        self.applicant_may_act = applicant_may_act
        # Off for steps after which going back would leave recorded facts in place (a signed
        # agreement, a payment).
        self.allow_send_back = allow_send_back
        self.send_back_target = send_back_target
        self.officer_operations = officer_operations
        self.tells_applicant = tells_applicant
        # validate(task, decision, values, comment) -> {field: [message]} for rules beyond the
        # field types (an amount not above the approved one …); on_complete(task, decision,
        # values) writes the decision into the process record, in the same transaction.
        self._validate = validate
        self._on_complete = on_complete
        self._routes = {}

    @property
    def role(self):
        return self.approvers.role

    @property
    def by_role(self):
        return isinstance(self.approvers, Approvers)

    def OnReject(self, node):  # noqa: N802  (viewflow's fluent style)
        self._routes[REJECT] = node
        return self

    def OnReturn(self, node):  # noqa: N802
        self._routes[RETURN] = node
        return self

    def _resolve(self, instance):
        super()._resolve(instance)
        self._routes = {k: this.resolve(instance, v) for k, v in self._routes.items()}
        self._validate = this.resolve(instance, self._validate)
        self._on_complete = this.resolve(instance, self._on_complete)
        self.eligibility = this.resolve(instance, self.eligibility)
        self.eligible_q = this.resolve(instance, self.eligible_q)
        if REJECT in self.decisions and REJECT not in self._routes:
            raise ValueError(f"step {self.name!r} allows reject but declares no .OnReject()")

    def _outgoing(self):
        yield from super()._outgoing()
        for decision, node in self._routes.items():
            yield Edge(src=self, dst=node, edge_class=f"cond_{decision}")

    def route_for(self, decision):
        return self._routes.get(decision, self._next)

    def decisions_spec(self, decisions=None):
        return [
            {
                "value": d,
                "label": str(DECISION_LABELS[d]),
                "comment_required": d in COMMENT_REQUIRED,
            }
            for d in (decisions or self.decisions)
        ]


class SupplementActivation(StepActivation):
    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        from . import services

        return cls(services.open_supplement_task(flow_task, prev_activation, token, data or {}))

    @Activation.status.super()
    def execute(self):
        self.complete()
        self.outcome = RESUBMIT
        self.activate_next()

    @Activation.status.super()
    def create_next(self):
        target = self.flow_task.flow_class.instance.node(self.task.data["return_to"])
        yield target._create(self, self.task.token)


class Supplement(Step):
    """补正: the applicant supplements what was asked for and resubmits; the case goes back
    to the step that asked."""

    activation_class = SupplementActivation

    def __init__(self, title, **kwargs):
        from .spec import Field

        super().__init__(
            title,
            approvers=Users(lambda case: [case.applicant], role="member"),
            decisions=(RESUBMIT,),
            fields=(Field("note", "text", _("Note"), required=False),),
            separation_of_duties=False,
            # The applicant's own: not theirs to hand on, show to others or put back in a queue.
            officer_operations=False,
            **kwargs,
        )


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

    def __init__(self, title, *, status, outcome=""):
        super().__init__()
        self.task_title = title  # on the process diagram and in the trail
        self.status = status
        self.outcome = outcome or status
