"""The vocabulary a flow uses to declare an approval step: who may act, which decisions are
allowed and which fields completing the task takes."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core import memo
from core.errors import Invalid
from core.logging import treat_as_secret

APPROVE = "approve"
REJECT = "reject"
RETURN = "return"
RESUBMIT = "resubmit"  # the applicant answers a send-back (补正)
SUBMIT = "submit"  # a step that records facts rather than approving (e.g. a payment)
SKIPPED = "skipped"  # a step the case did not need
SENT_BACK = "sent_back"  # the assignee sent the case back to an earlier step
DECISION_LABELS = {
    APPROVE: _("Approve"),
    REJECT: _("Reject"),
    RETURN: _("Return"),
    RESUBMIT: _("Resubmit"),
    SUBMIT: _("Submit"),
}
# Decisions that must say why.
COMMENT_REQUIRED = frozenset({REJECT, RETURN})

FIELD_TYPES = ("string", "text", "integer", "decimal", "date", "boolean", "choice", "user")


@dataclass(frozen=True)
class Field:
    """One input a task asks for, rendered by any client from `fields` in the task JSON.

    `sensitive`: a secret (a bank account number …) that only the step's `validate` and
    `on_complete` see whole — the step keeps it where it belongs (e.g. encrypted on the
    record). The task data and the trail keep `mask(value)` when a `mask` is given, else
    nothing of it; logs and error reports never show it (core.logging); the task JSON marks
    it, and the page keeps it out of the browser's autofill."""

    name: str
    type: str
    label: str
    required: bool = True
    choices: tuple = ()
    max_length: int = 2000
    min_value: Decimal | int | None = None
    max_value: Decimal | int | None = None
    sensitive: bool = False
    mask: object = None

    def __post_init__(self):
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}")
        if self.mask is not None and not self.sensitive:
            raise ValueError(f"field {self.name!r}: a mask is for a sensitive field")
        if self.sensitive:
            treat_as_secret(self.name)  # its values are redacted from logs and error reports

    def as_dict(self):
        out = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "label": str(self.label),
        }
        if self.type == "choice":
            out["choices"] = [{"value": v, "label": str(label)} for v, label in self.choices]
        if self.sensitive:
            out["sensitive"] = True  # a client keeps it out of autofill, history and logs
        return out

    def serializer_field(self):
        common = {"required": self.required, "label": str(self.label)}
        if not self.required:
            common["allow_null"] = True
        if self.type in ("string", "text"):
            return serializers.CharField(
                max_length=self.max_length if self.type == "text" else min(self.max_length, 200),
                allow_blank=not self.required,
                **common,
            )
        if self.type == "integer":
            return serializers.IntegerField(
                min_value=self.min_value, max_value=self.max_value, **common
            )
        if self.type == "decimal":
            return serializers.DecimalField(
                max_digits=14,
                decimal_places=2,
                min_value=self.min_value if self.min_value is not None else Decimal("0"),
                max_value=self.max_value,
                **common,
            )
        if self.type == "date":
            return serializers.DateField(**common)
        if self.type == "boolean":
            return serializers.BooleanField(**common)
        if self.type == "choice":
            return serializers.ChoiceField(choices=[v for v, _label in self.choices], **common)
        if self.type == "user":
            return serializers.CharField(max_length=150, **common)  # a username
        raise AssertionError(self.type)


def validate_fields(fields, data, *, enforce_required=True):
    """Validate task data against the declared fields; unknown keys are refused so that a
    typo never silently drops what an officer entered. Returns plain-JSON values.
    Rejecting or returning a task does not make the officer fill in what approving needs."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _invalid({"data": [_("Must be an object.")]})
    declared = {f.name for f in fields}
    unknown = sorted(set(data) - declared)
    if unknown:
        raise _invalid({f"data.{k}": [_("Unknown field for this task.")] for k in unknown})
    serializer_class = type(
        "TaskDataSerializer",
        (serializers.Serializer,),
        {f.name: f.serializer_field() for f in fields},
    )
    serializer = serializer_class(data=data, partial=not enforce_required)
    if not serializer.is_valid():
        raise _invalid({f"data.{k}": [str(m) for m in v] for k, v in serializer.errors.items()})
    return {
        k: (str(v) if isinstance(v, Decimal) else v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in serializer.validated_data.items()
    }


def kept_values(fields, values):
    """What the task data and the trail keep of a decision's validated `values`: a sensitive
    field's value masked, or left out when the field declares no mask."""
    sensitive = {f.name: f for f in fields if f.sensitive}
    kept = {}
    for name, value in values.items():
        field_ = sensitive.get(name)
        if field_ is None or value in (None, ""):
            kept[name] = value
        elif field_.mask is not None:
            kept[name] = field_.mask(value)
    return kept


def _invalid(fields):
    """A domain error (not DRF's ValidationError), so that the pages put each message next to
    its field as the API names it, instead of failing with a 500."""
    return Invalid(
        _("Invalid input: %(fields)s.") % {"fields": ", ".join(sorted(fields))}, fields=fields
    )


# --- Where approvers sit, relative to the case ---------------------------------------------


def case_org(case):
    """The case's own organization (e.g. the applicant's grassroots union)."""
    return case.organization


def parent_org(case):
    """One level up from the case's organization (e.g. the town federation). The tree is
    configuration (core.generation): kept across operations until it changes."""
    from organizations.models import Organization

    org = case.organization
    return memo.configuration(
        ("parent_org", org.pk), lambda: Organization.objects.get_parent(org) or org
    )


def org_of_kind(kind):
    """The nearest organization of `kind` at or above the case's organization."""

    def resolve(case):
        org = case.organization
        if org.kind == kind:
            return org
        from organizations.models import Organization

        for ancestor in reversed(Organization.objects.get_ancestors(org)):
            if ancestor.kind == kind:
                return ancestor
        return org

    resolve.__name__ = f"org_of_kind_{kind}"
    return resolve


@dataclass(frozen=True)
class Approvers:
    """Holders of `role` at the organization `at(case)` returns; they claim the step's tasks
    from their queue."""

    role: str
    at: object = field(default=case_org)

    def organization_for(self, case):
        return self.at(case)


@dataclass(frozen=True)
class Users:
    """Named people, in order: `users(case)` returns them. Each gets a task of their own.
    `role` is the role they act in (for the trail and escalation), held at the case's
    organization or above it — or, `role_at_case`, at the case's own organization (a mediator
    of the case's mediation room): one who no longer holds it there can no longer act."""

    users: object
    role: str = ""
    role_at_case: bool = False

    def resolve(self, case):
        return list(self.users(case))


# What happens to a task nobody finished by its due time (besides telling the level above).
AUTO_APPROVE = "auto_approve"
AUTO_REJECT = "auto_reject"
REASSIGN_UP = "reassign_up"
TIMEOUT_ACTIONS = (AUTO_APPROVE, AUTO_REJECT, REASSIGN_UP)
