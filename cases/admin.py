from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .labels import ACTIONS, action_label, outcome_label, role_label
from .models import Case, TrailEvent

# The processes by name (as the pages name them); a process without a name here (the tests'
# sample flow) shows its code.
PROCESSES = {
    "hardship": _("Hardship aid"),
    "mediation": _("Labor-dispute mediation"),
    "remittance": _("Fee remittance"),
}


def process_label(code):
    return PROCESSES.get(code, code)


def step_label(process, name):
    """A step's title as the pages show it (the trail and the tasks store node names)."""
    from workflows.base import flow_for

    if not name:
        return ""
    try:
        node = flow_for(process).instance.node(name)
    except KeyError:
        node = None
    return getattr(node, "task_title", None) or name


class CodeListFilter(admin.SimpleListFilter):
    """A filter on a column that stores codes, offering the codes' labels (Django's own
    filter for such a column lists the raw values)."""

    def lookups(self, request, model_admin):
        return self.choices_with_labels()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value()})
        return queryset


class ProcessFilter(CodeListFilter):
    title = _("process")
    parameter_name = "process"

    def choices_with_labels(self):
        return list(PROCESSES.items())


class ActionFilter(CodeListFilter):
    title = _("action")
    parameter_name = "action"

    def choices_with_labels(self):
        return sorted(ACTIONS.items(), key=lambda item: item[0])


class ReadOnlyAdmin(admin.ModelAdmin):
    """Cases change only through their services, and the trail never changes at all."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "process_name",
        "status",
        "outcome_name",
        "organization",
        "applicant",
        "created_at",
    )
    list_filter = (ProcessFilter, "status")
    search_fields = ("number", "title", "applicant__username", "applicant__full_name")
    list_select_related = ("organization", "applicant")

    @admin.display(description=_("process"), ordering="process")
    def process_name(self, obj):
        return process_label(obj.process)

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_name(self, obj):
        return outcome_label(obj.outcome) if obj.outcome else ""


@admin.register(TrailEvent)
class TrailEventAdmin(ReadOnlyAdmin):
    list_display = ("case", "seq", "at", "action_name", "step_name", "actor", "role_name")
    list_filter = (ActionFilter,)
    search_fields = ("case__number",)
    list_select_related = ("case", "actor")
    # The action, step and role as the pages name them (an unknown code shows as it is).
    fields = (
        "case",
        "seq",
        "at",
        "actor",
        "role_name",
        "on_behalf_of",
        "action_name",
        "step_name",
        "task_id",
        "comment",
        "data",
        "source_ip",
        "prev_hash",
        "hash",
        "seal",
    )
    readonly_fields = ("action_name", "step_name", "role_name")

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, obj):
        return action_label(obj.action)

    @admin.display(description=_("step"), ordering="step")
    def step_name(self, obj):
        return step_label(obj.case.process, obj.step)

    @admin.display(description=_("actor's role"), ordering="actor_role")
    def role_name(self, obj):
        return role_label(obj.actor_role) if obj.actor_role else ""
