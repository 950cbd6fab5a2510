"""Sensitive values never reach a log line or an error report: passwords, tokens, the
Authorization header, resident ID numbers (and their encrypted form, Fernet tokens)."""

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, get_exception_reporter_filter

from core.logging import REDACTED, RedactSensitive, redact_text
from core.sensitive import encrypt
from organizations.demo import DEMO_PASSWORD
from tests.hardship.helpers import URL, application, ric_number

ID_NUMBER = ric_number(7)  # 110105198001010071-like, with its check character
# Built at run time: the error report quotes this file's source lines around the failure.
PASSWORD = "-".join(["pa55", "word"])


@pytest.fixture
def console():
    """What the configured root handlers (LOGGING's "console") write, for the test."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactSensitive) for f in h.filters)
    ]
    assert handlers, "LOGGING installs the redacting filter on the root handler"
    stream = io.StringIO()
    previous = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def everything_logged(caplog, console):
    records = "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}\n{r.stack_info or ''}" for r in caplog.records
    )
    return f"{records}\n{console.getvalue()}"


def test_a_failing_application_logs_its_error_without_the_id_number(
    demo, api, caplog, console, monkeypatch
):
    """A server error while an application is submitted — here a storage error that echoes
    the value it choked on, in clear and encrypted — is logged with its traceback, but the
    ID number is not in it."""

    def failing_index(value, *, scope):
        raise ValueError(f"cannot index {value!r} (stored as {encrypt(value)})")

    monkeypatch.setattr("cases.hardship.services.blind_index", failing_index)
    client = api(demo.worker1)
    client.raise_request_exception = False
    with caplog.at_level(logging.INFO):
        response = client.post(URL, application(id_number=ID_NUMBER), format="json")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    logged = everything_logged(caplog, console)
    # The error was logged, traceback included …
    assert "Internal Server Error: /api/v1/hardship-applications/" in console.getvalue()
    assert "ValueError: cannot index" in console.getvalue()
    # … without the ID number or its ciphertext.
    assert ID_NUMBER not in logged
    assert "gAAAAA" not in logged
    assert REDACTED in console.getvalue()


def test_a_refused_application_and_a_wrong_password_leave_no_secret_in_the_log(
    demo, api, client, caplog, console
):
    with caplog.at_level(logging.INFO):
        refused = api(demo.worker1).post(
            URL, application(id_number=ID_NUMBER, household_size=-1), format="json"
        )
        wrong = client.post(
            "/api/v1/auth/token/",
            {"username": "worker1", "password": "s3cret-guess-42"},
            content_type="application/json",
        )
        right = client.post(
            "/api/v1/auth/token/",
            {"username": "worker2", "password": DEMO_PASSWORD},
            content_type="application/json",
        )
        authorized = client.get("/api/v1/cases/999999/", HTTP_AUTHORIZATION="Token bogus" * 4)
    assert refused.status_code == 400 and wrong.status_code == 400
    assert right.status_code == 200 and authorized.status_code == 401
    logged = everything_logged(caplog, console)
    assert "Bad Request: /api/v1/hardship-applications/" in logged  # something was logged
    for secret in (ID_NUMBER, "s3cret-guess-42", DEMO_PASSWORD, right.json()["token"]):
        assert secret not in logged


def test_anything_logged_by_the_code_is_redacted(console):
    """Even a careless log call — a request body, headers, a record dict — loses its
    secrets before any handler writes it."""
    logger = logging.getLogger("cases.hardship")
    body = {
        "id_number": ID_NUMBER,
        "child_id_number": ric_number(8),
        "password": "pa55word!",
        "reason": "Laid off",
    }
    logger.warning("submitted %s", body)
    logger.warning("headers: %r", {"Authorization": "Token 0123456789abcdef0123456789abcdef"})
    logger.warning("raw body: password=pa55word!&username=worker1&id_number=%s", ID_NUMBER)
    logger.warning("stored %s", encrypt(ID_NUMBER))
    try:
        raise RuntimeError(f"duplicate applicant {ID_NUMBER}")
    except RuntimeError:
        logger.exception("submit failed")
    out = console.getvalue()
    for secret in (ID_NUMBER, ric_number(8), "pa55word!", "0123456789abcdef", "gAAAAA"):
        assert secret not in out
    # What is not secret stays readable.
    assert "Laid off" in out and "username=worker1" in out
    assert "RuntimeError: duplicate applicant [REDACTED]" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id 11010519800101002X here", "id [REDACTED] here"),
        ("Authorization: Token abcdef0123456789abcdef", "Authorization: [REDACTED]"),
        ("'HTTP_AUTHORIZATION': 'Bearer xyz.abc.def'", "'HTTP_AUTHORIZATION': '[REDACTED]'"),
        ('{"password": "p@ss w0rd"}', '{"password": "[REDACTED]"}'),
        ("new_password1=abc&next=/", "new_password1=[REDACTED]&next=/"),
        ("{'applicant_id_number': '110105'}", "{'applicant_id_number': '[REDACTED]'}"),
        ("curl -H 'Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b'", None),
        # Not secrets: case numbers, hashes, sums, an 18-digit run inside a hash.
        ("KN-2026-000123 paid 1800.00", "KN-2026-000123 paid 1800.00"),
        ("sha256 a123456789012345678b", "sha256 a123456789012345678b"),
        ("19 digits 1234567890123456789", "19 digits 1234567890123456789"),
        ("Bad Request: /api/v1/auth/token/", "Bad Request: /api/v1/auth/token/"),
    ],
)
def test_redact_text(text, expected):
    redacted = redact_text(text)
    if expected is None:
        assert "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b" not in redacted
    else:
        assert redacted == expected


def test_the_error_report_hides_sensitive_fields(demo, settings):
    """Django's error report (the 500 mail to admins, DEBUG pages when enabled) shows neither
    the posted password and ID number nor local variables holding them, nor the keys."""
    settings.DEBUG = False
    request = RequestFactory().post(
        "/hardship/apply/",
        {"id_number": ID_NUMBER, "password": PASSWORD, "reason": "Laid off"},
    )
    request.user = demo.worker1
    assert type(get_exception_reporter_filter(request)).__name__ == (
        "SensitiveExceptionReporterFilter"
    )

    def submit(id_number, note):  # noqa: ARG001 — the frame's locals are what is reported
        child_id_number = ric_number(9)  # noqa: F841
        raise ValueError("could not submit")

    try:
        submit(ID_NUMBER, f"for {ID_NUMBER}")
    except ValueError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    report = reporter.get_traceback_text() + reporter.get_traceback_html()
    assert "could not submit" in report and "Laid off" in report
    for secret in (ID_NUMBER, ric_number(9), PASSWORD, settings.SECRET_KEY):
        assert secret not in report


WORKER_SCRIPT = """
import logging, os
from celery.signals import worker_ready
from project.celery import app

@worker_ready.connect
def log_and_exit(**kwargs):
    logging.getLogger("cases.hardship").warning("applicant %s, password=%s", *os.environ["LEAK"].split())
    logging.getLogger().handlers[0].flush()
    os._exit(0)

app.worker_main(["worker", "--pool=solo", "-l", "info", "--without-heartbeat",
                 "--without-mingle", "--without-gossip"])
"""


def test_a_celery_worker_redacts_too(tmp_path):
    """A real worker replaces the root logger's handlers with its own; the filter follows."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "CELERY_BROKER_URL": "memory://",
        "UNIONFLOW_VAR_DIR": str(tmp_path),
        "LEAK": f"{ID_NUMBER} {PASSWORD}",
    }
    result = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert "applicant [REDACTED], password=[REDACTED]" in out, out[-2000:]
    assert ID_NUMBER not in out and PASSWORD not in out


def test_a_step_input_declared_sensitive_is_redacted_like_an_encrypted_field(console):
    """A flow's secret input (Field(sensitive=True)) needs no entry here to stay out of logs:
    its name is a secret name as soon as it is declared, the page's `data_` form name too."""
    from approvals.spec import Field

    Field("payroll_pin", "string", "PIN", sensitive=True)
    logging.getLogger("approvals").warning(
        "decided %s; form data_payroll_pin=4711&comment=ok", {"payroll_pin": "4711-0815"}
    )
    out = console.getvalue()
    assert "4711" not in out and "0815" not in out
    assert "comment=ok" in out
