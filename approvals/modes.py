"""How the decisions of one round of a step add up to the step's outcome.

A round (a batch of tasks) holds the step's own approval tasks plus any approvers added to it
(加签 after / in parallel), who must approve as well. `outcome` returns None while the round
is still open."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from .spec import APPROVE, REJECT, RETURN


@dataclass(frozen=True)
class Mode(ABC):
    # Number of parallel tasks claimable by role holders (distinct people). Explicit approver
    # lists get one task each instead.
    slots: int = 1
    sequential: bool = False

    @abstractmethod
    def decide(self, decisions):
        """The outcome of the step's own decisions (None while undecided)."""

    def outcome(self, own, added):
        """`own`: decisions (None while open) of the step's own tasks; `added`: of added
        approvers. A return sends the case back at once; any added approver's rejection rejects."""
        if RETURN in own or RETURN in added:
            return RETURN
        if REJECT in added:
            return REJECT
        result = self.decide(own)
        if result == APPROVE and None in added:
            return None
        return result


@dataclass(frozen=True)
class Single(Mode):
    """One person decides."""

    def decide(self, decisions):
        return next((d for d in decisions if d is not None), None)


@dataclass(frozen=True)
class AnyOne(Mode):
    """或签: the first decision wins; the other open tasks are cancelled."""

    def decide(self, decisions):
        return next((d for d in decisions if d is not None), None)


@dataclass(frozen=True)
class Countersign(Mode):
    """会签: everyone must approve; any rejection rejects."""

    def decide(self, decisions):
        if REJECT in decisions:
            return REJECT
        return APPROVE if decisions and all(d == APPROVE for d in decisions) else None


@dataclass(frozen=True)
class NOfM(Mode):
    """At least `required` approvals out of all tasks of the round."""

    required: int = 1

    def decide(self, decisions):
        approvals = decisions.count(APPROVE)
        rejections = decisions.count(REJECT)
        if approvals >= self.required:
            return APPROVE
        if len(decisions) - rejections < self.required:
            return REJECT
        return None


@dataclass(frozen=True)
class Sequential(Mode):
    """依次: the listed approvers decide one after another; any rejection rejects. The next
    approver's task opens when the previous one approves."""

    sequential: bool = True

    def decide(self, decisions):
        if REJECT in decisions:
            return REJECT
        return APPROVE if decisions and all(d == APPROVE for d in decisions) else None
