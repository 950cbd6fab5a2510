from django import template

from cases.labels import action_label, role_label

register = template.Library()
register.filter("action_label", action_label)
register.filter("role_label", role_label)
