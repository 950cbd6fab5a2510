"""Process-specific case fields. Each process app registers the one-to-one record that holds
its fields and the serializer that renders them; the case API merges them into the case JSON
(one join per process, so lists stay constant in queries)."""

from dataclasses import dataclass

from rest_framework import serializers


class RateField(serializers.DecimalField):
    """A rate kept as a fraction (0.020000): the same in the case JSON as a DecimalField, shown
    on the case page as a percentage (2%)."""


@dataclass(frozen=True)
class ProcessDetails:
    related_name: str  # the record's reverse one-to-one accessor on Case
    serializer: type  # renders the record's fields for the case JSON
    select_related: tuple = ()  # further joins the serializer reads, relative to the record
    # panel(request, case) -> {"template": …, **context} or None: a process's own section of
    # the case page (an objection form, sessions, signatures …).
    panel: object = None


_registry = {}


def register(process, *, related_name, serializer, select_related=(), panel=None):
    _registry[process] = ProcessDetails(related_name, serializer, tuple(select_related), panel)


def for_process(process):
    return _registry.get(process)


def joins():
    """select_related paths that bring every registered record along with its case."""
    paths = []
    for details in _registry.values():
        paths.append(details.related_name)
        paths.extend(f"{details.related_name}__{p}" for p in details.select_related)
    return paths


# Start pages: (process, title, url name, may_start(user)) — the apply page lists those the
# user may start.
_start_forms = []


def register_start_form(process, *, title, url_name, may_start):
    _start_forms.append((process, title, url_name, may_start))


def start_forms(user):
    return [(title, url_name) for _p, title, url_name, may_start in _start_forms if may_start(user)]
