"""Approval services: every operation on a task or a step round. One transaction each, under
the process lock, with the trail event and the notifications."""

from .deadlines import process_deadlines
from .delegations import create_delegation, return_delegated_tasks, revoke_delegation
from .holders import settle_holders
from .rounds import (
    open_round,
    open_supplement,
    open_supplement_task,
    round_outcome_after,
    task_opened,
)
from .tasks import (
    ADD_POSITIONS,
    add_approver,
    allowed_decisions,
    cc,
    claim,
    complete,
    earlier_steps,
    may_claim,
    may_urge,
    release,
    reroute,
    send_back,
    transfer,
    urge,
    withdraw,
)

__all__ = [
    "ADD_POSITIONS",
    "add_approver",
    "allowed_decisions",
    "cc",
    "claim",
    "complete",
    "create_delegation",
    "return_delegated_tasks",
    "earlier_steps",
    "may_claim",
    "may_urge",
    "open_round",
    "open_supplement",
    "open_supplement_task",
    "process_deadlines",
    "release",
    "reroute",
    "revoke_delegation",
    "round_outcome_after",
    "send_back",
    "settle_holders",
    "task_opened",
    "transfer",
    "urge",
    "withdraw",
]
