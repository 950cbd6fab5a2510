"""API views and helpers shared by every app: Idempotency-Key and the auth token."""

import functools
import hashlib
import json

from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, transaction
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from .errors import Conflict
from .models import IdempotencyRecord
from .rest import ErrorSerializer


def idempotent(view_method):
    """Decorate a POST handler: with an `Idempotency-Key` header, the first response is stored
    in the same transaction as the work, and a repeat returns it unchanged. The schema
    documents the header and the 409 of every handler so decorated (core.schema)."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            raise exceptions.ValidationError({"Idempotency-Key": [_("At most 255 characters.")]})
        body = (
            json.dumps(request.data, sort_keys=True, default=str)
            if hasattr(request, "data")
            else ""
        )
        request_hash = hashlib.sha256(
            f"{request.method} {request.path}\n{body}".encode()
        ).hexdigest()

        def replay(record):
            if record.request_hash != request_hash:
                raise Conflict(
                    _("This Idempotency-Key was already used for a different request."),
                    code="idempotency_key_reused",
                )
            return Response(record.response_body, status=record.status_code)

        existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if existing is not None and existing.status_code is not None:
            return replay(existing)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    request_hash=request_hash,
                )
                response = view_method(self, request, *args, **kwargs)
                if response.status_code >= 400:
                    # Failed attempts are not remembered: the client may fix and retry.
                    transaction.set_rollback(True)
                    return response
                record.status_code = response.status_code
                record.response_body = json.loads(json.dumps(response.data, default=str))
                record.save(update_fields=["status_code", "response_body"])
                return response
        except IntegrityError:
            # A concurrent request with the same key committed first.
            return replay(IdempotencyRecord.objects.get(user=request.user, key=key))

    wrapper.idempotent = True
    return wrapper


class AuthThrottle(AnonRateThrottle):
    scope = "auth"


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class ObtainToken(ObtainAuthToken):
    """POST username and password, get a token for the `Authorization: Token …` header.
    Failed attempts count towards the login lockout (django-axes) like the login page's:
    once locked, even the right password gets 429 until the cool-off has passed."""

    throttle_classes = [AuthThrottle]
    renderer_classes = ObtainAuthToken.renderer_classes[:1]

    @extend_schema(
        responses={200: TokenResponseSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
        tags=["auth"],
    )
    def post(self, request, *args, **kwargs):
        from .views import locked_out

        # The serializer calls authenticate(request=request, …), which axes watches.
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.ValidationError:
            if getattr(request, "axes_locked_out", False):
                return locked_out(request)
            raise
        user = serializer.validated_data["user"]
        # A successful login as far as axes (which then forgets earlier failures) and
        # last_login are concerned.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


urlpatterns = [path("auth/token/", ObtainToken.as_view(), name="api-auth-token")]
