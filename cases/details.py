"""Process-specific case fields. Each process app registers the one-to-one record that holds
its fields and the serializer that renders them; the case API merges them into the case JSON
(one join per process, so lists stay constant in queries)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessDetails:
    related_name: str  # the record's reverse one-to-one accessor on Case
    serializer: type  # renders the record's fields for the case JSON
    select_related: tuple = ()  # further joins the serializer reads, relative to the record


_registry = {}


def register(process, *, related_name, serializer, select_related=()):
    _registry[process] = ProcessDetails(related_name, serializer, tuple(select_related))


def for_process(process):
    return _registry.get(process)


def joins():
    """select_related paths that bring every registered record along with its case."""
    paths = []
    for details in _registry.values():
        paths.append(details.related_name)
        paths.extend(f"{details.related_name}__{p}" for p in details.select_related)
    return paths
