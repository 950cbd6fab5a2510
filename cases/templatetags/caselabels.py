from django import template

from cases.labels import (
    action_label,
    decision_label,
    outcome_label,
    role_label,
    task_status_label,
)

register = template.Library()
register.filter("action_label", action_label)
register.filter("role_label", role_label)
register.filter("outcome_label", outcome_label)
register.filter("task_status", task_status_label)
register.filter("decision_label", decision_label)


@register.filter
def lookup(mapping, key):
    """mapping[key], or the key itself when absent (step titles by node name)."""
    return mapping.get(key, key) if mapping else key
