"""OpenAPI generation: every operation documents the errors it can answer with, in the shared
error shape (core.rest.ErrorSerializer), so a client — or the API fuzz test — finds every status
the API returns in the schema. Views still document their own (409, 429 …) with extend_schema;
those win over the defaults added here. A handler decorated `@idempotent` documents the
`Idempotency-Key` header and the 409 for a key used for a different request. Optional query
parameters are marked as accepting an empty value, which every list and report reads as "not
given"."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from .rest import ErrorSerializer

IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 255},
    "description": "A repeat of the same POST with the same key returns the first result and "
    "creates nothing. A key is remembered for IDEMPOTENCY_RETENTION_HOURS (7 days by default).",
}

DESCRIPTIONS = {
    400: _("Invalid input; `fields` names each field at fault."),
    401: _("Not authenticated, or the credentials are invalid."),
    403: _("Authenticated but not allowed."),
    404: _("Not found, or outside the caller's reach (also: a page past the last)."),
    409: _(
        "Conflicts with the current state (also: the Idempotency-Key was used for a different request)."
    ),
    415: _("The request body is not JSON."),
    429: _("Too many requests; try again later."),
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                # The API's convention: an empty optional query parameter is one left out.
                parameter["allowEmptyValue"] = True
        if self._idempotent():
            operation.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
        responses = operation.setdefault("responses", {})
        for code in self._error_codes(operation):
            if str(code) not in responses:
                # Errors are JSON even where the success is a file (CSV, PDF …).
                responses[str(code)] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code]),
                    str(code),
                    media_types=["application/json"],
                )
        return operation

    def _error_codes(self, operation):
        codes = set()
        query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if "requestBody" in operation or query:
            codes.add(400)  # a body or a query parameter may be invalid
        if "requestBody" in operation:
            codes.add(415)
        if self.view.get_authenticators():
            codes.add(401)  # an invalid token is refused even where no login is needed
        permissions = self.view.get_permissions()
        if any(not isinstance(p, AllowAny) for p in permissions):
            codes.add(403)
        if "{" in self.path or (self._is_list_view() and self._get_paginator()):
            codes.add(404)  # the object, or the page, does not exist
        if self.view.get_throttles():
            codes.add(429)
        if self._idempotent():
            codes.add(409)
        return sorted(codes)

    def _idempotent(self):
        handler = getattr(self.view, self.method.lower(), None)
        return getattr(handler, "idempotent", False)
