"""DRF settings hooks: pagination, strict query values and the error format. Kept free of view imports because
REST_FRAMEWORK settings import it early."""

import json
import logging

from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError
from django.db.models import Count, Window
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from viewflow.workflow.exceptions import FlowLockFailed

from .errors import DomainError
from .statements import whole_number

logger = logging.getLogger(__name__)


class OneReadPaginator(Paginator):
    """Django's paginator counts the list and then reads the page: two statements. A list
    that can read a page with its total (`page_and_total(offset, limit)`, a window count)
    costs one. Pages past the end, or not whole numbers, are refused as Django refuses them."""

    def page(self, number):
        read = getattr(self.object_list, "page_and_total", None)
        whole = whole_number(number)
        if read is None or whole is None or whole < 1:
            return super().page(number)
        items, total = read((whole - 1) * self.per_page, self.per_page)
        if not items and whole > 1:
            return super().page(whole)  # counts, and says the page holds no results
        self.__dict__["count"] = total
        return self._get_page(items, whole, self)


class PagesWithTotal:
    """An ordered queryset as OneReadPaginator pages it: each page read with the list's total
    (`COUNT(*) OVER ()`, counted before the page is cut) in one statement."""

    def __init__(self, queryset):
        self.queryset = queryset

    def count(self):
        return self.queryset.count()

    def page_and_total(self, offset, limit):
        rows = list(
            self.queryset.annotate(total_in_list=Window(Count("pk")))[offset : offset + limit]
        )
        return rows, (rows[0].total_in_list if rows else 0)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100
    django_paginator_class = OneReadPaginator

    def get_page_size(self, request):
        """A `page_size` that is not a whole number from 1 is a 400 naming it (DRF would
        silently use the default); above the maximum it is capped; empty means the default."""
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [_("Enter a whole number from 1.")]}
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1)
                parameter["description"] = _("Results per page (at most %(max)s).") % {
                    "max": self.max_page_size
                }
            elif parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1)
        return parameters


TRUE_VALUES, FALSE_VALUES = ("true", "True", "1"), ("false", "False", "0")


class StrictNullBooleanField(forms.NullBooleanField):
    """true / false (or 1 / 0), or nothing; Django's would read any other text as "not given"
    and quietly list everything."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in (True, *TRUE_VALUES):
            return True
        if value in (False, *FALSE_VALUES):
            return False
        raise forms.ValidationError(_("Enter true or false."), code="invalid")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, and a body nested past Python's recursion limit is bad JSON (400),
    not a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_("The JSON body is nested too deeply.")) from exc


def _flatten(detail):
    """DRF error detail → {field: [messages]} with nested fields joined by dots."""
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            if value and all(not isinstance(v, (dict, list)) for v in value):
                out.setdefault(prefix or "non_field_errors", []).extend(str(v) for v in value)
            else:
                for i, v in enumerate(value):
                    walk(f"{prefix}.{i}" if prefix else str(i), v)
        else:
            out.setdefault(prefix or "non_field_errors", []).append(str(value))

    walk("", detail)
    return out


def _django_validation_fields(exc):
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


# Seconds a client is asked to wait when the database cannot be reached.
RETRY_AFTER_SECONDS = 5

# SQLSTATEs of an operational error that is about this transaction, not the server: a
# serialization failure or deadlock (class 40), a lock not available (55P03).
_TRANSACTION_SQLSTATE_PREFIXES = ("40", "55P03")


def database_unavailable(exc):
    """Whether `exc` means the database cannot be reached right now (down, restarting, the
    connection dropped) — a condition to retry later, not a bug. Checked on the driver's
    SQLSTATE: connection failures carry none or class 08 / 57P0x."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    return not sqlstate.startswith(_TRANSACTION_SQLSTATE_PREFIXES)


# SQLSTATE of a statement the server stopped: the web process's statement timeout
# (DB_STATEMENT_TIMEOUT_SECONDS) or an administrator's pg_cancel_backend.
_QUERY_CANCELED = "57014"


def database_refusal(exc):
    """The body of the 503 for `exc` when it is the database's condition rather than a bug —
    a statement stopped for taking too long, or the database out of reach — else None. Either
    way the transaction was rolled back: nothing was changed."""
    if isinstance(exc, OperationalError) and (
        getattr(exc.__cause__, "sqlstate", None) == _QUERY_CANCELED
    ):
        return {
            "detail": _(
                "The request took longer than the server allows and was stopped; nothing was "
                "changed. Try again shortly."
            ),
            "code": "timeout",
        }
    if database_unavailable(exc):
        return {
            "detail": _(
                "The database is not available at the moment; nothing was changed. "
                "Try again shortly."
            ),
            "code": "database_unavailable",
        }
    return None


def retry_after_header(exc):
    """{"Retry-After": seconds} for a domain error that says when to try again (its
    `retry_after`, e.g. an urge within the interval), else {}; the pages send it too (core.ui)."""
    return {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}


def exception_handler(exc, context):
    """Every error as {"detail", "code"} plus {"fields": {name: [messages]}} for bad input."""
    if isinstance(exc, DomainError):
        body = {"detail": str(exc.detail), "code": exc.code}
        if exc.fields:
            body["fields"] = {
                k: [str(m) for m in (v if isinstance(v, list) else [v])]
                for k, v in exc.fields.items()
            }
        return Response(body, status=exc.status_code, headers=retry_after_header(exc))
    if isinstance(exc, DjangoValidationError):
        fields = _django_validation_fields(exc)
        first = next(iter(fields.values()))[0] if fields else _("Invalid input.")
        return Response({"detail": first, "code": "invalid", "fields": fields}, status=400)
    refusal = database_refusal(exc)
    if refusal:
        logger.warning("Database refused the request (%s): %s", refusal["code"], exc)
        return Response(
            refusal,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, FlowLockFailed):
        return Response(
            {"detail": _("The case is busy; try again."), "code": "busy"},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if set(fields) == {"non_field_errors"}:
            detail = fields["non_field_errors"][0]
        else:
            detail = _("Invalid input: %(fields)s.") % {"fields": ", ".join(sorted(fields))}
        response.data = {"detail": detail, "code": "invalid", "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if isinstance(detail, (list, dict)):
            detail = json.dumps(detail, ensure_ascii=False)
        response.data = {"detail": str(detail), "code": code if isinstance(code, str) else "error"}
    return response
