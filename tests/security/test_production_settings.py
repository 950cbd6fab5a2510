"""project.production: passes Django's deployment checks with its secrets set, refuses to
start without them, and no secret has a production value written in the code."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **overrides):
    # The machine's environment, less what a test run adds (the browser tests allow Django's
    # async-unsafe calls, which the deployment checks rightly warn about) and the secrets.
    dropped = (
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "BLIND_INDEX_KEY",
        "TRAIL_SEAL_KEYS",
        "DEBUG",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    )
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DJANGO_SETTINGS_MODULE="project.production",
        UNIONFLOW_VAR_DIR=str(tmp_path),
        SECRET_KEY="Xq3" + "t9VbNw2sLkP0ZcRyHf7GmJd4QaEuTo1iWn6Ys8Br5Kx-_AzMhCvUgIeOlDjSpF",
        FIELD_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        BLIND_INDEX_KEY="c2VjcmV0LWJsaW5kLWluZGV4LWtleS1mb3ItdGVzdHM",
        TRAIL_SEAL_KEYS="dHJhaWwtc2VhbC1rZXktZm9yLXRlc3Rz,b2xkZXItdHJhaWwtc2VhbC1rZXktZm9yLXRlc3Rz",
        ALLOWED_HOSTS="union.example.org",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deployment_checks_pass(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_defaults(tmp_path):
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ('DEBUG', 'SECURE_SSL_REDIRECT', "
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', "
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_PROXY_SSL_HEADER', "
        "'X_FRAME_OPTIONS', 'AXES_ENABLED')}))"
    )
    env = production_env(tmp_path, DEBUG="true")  # DEBUG cannot be switched on in production
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "X_FRAME_OPTIONS": "DENY",
        "AXES_ENABLED": True,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        (
            {"SECRET_KEY": "dev-only-insecure-key-set-SECRET_KEY-in-production"},
            "SECRET_KEY is the development key",
        ),
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS is not set"),
        ({"FIELD_ENCRYPTION_KEYS": " , "}, "FIELD_ENCRYPTION_KEYS is not set"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"}, "must be comma-separated Fernet keys"),
        ({"BLIND_INDEX_KEY": None}, "BLIND_INDEX_KEY is not set"),
        ({"TRAIL_SEAL_KEYS": None}, "TRAIL_SEAL_KEYS is not set"),
        ({"TRAIL_SEAL_KEYS": " , "}, "TRAIL_SEAL_KEYS is not set"),
        (
            {"TRAIL_SEAL_KEYS": "dHJhaWwtc2VhbC1rZXktZm9yLXRlc3Rz,short"},
            "at least 32 characters",
        ),
    ],
)
def test_it_refuses_to_start_without_its_secrets(tmp_path, overrides, message):
    result = manage(production_env(tmp_path, **overrides), "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    # The message says what to do, and does not echo another secret.
    assert "README" in result.stderr or "Fernet" in result.stderr or "random" in result.stderr


def test_the_development_settings_still_start_without_secrets(tmp_path):
    env = production_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="project.settings",
        SECRET_KEY=None,
        FIELD_ENCRYPTION_KEYS=None,
        BLIND_INDEX_KEY=None,
        TRAIL_SEAL_KEYS=None,
    )
    result = manage(env, "check")
    assert result.returncode == 0, result.stderr


SECRET_NAME = ("SECRET", "PASSWORD", "KEY", "TOKEN")


def _literal_secrets(path):
    """(line, name, value) of assignments that give a secret-looking name a value written in
    the code: a string literal, an environment lookup's default, or an `or` fallback. The
    development key is the one allowed literal (it is named so, and production refuses it)."""

    def literals(value):
        if isinstance(value, ast.Constant):
            return [value.value] if isinstance(value.value, str) and value.value else []
        if isinstance(value, ast.BoolOp):
            return [v for operand in value.values for v in literals(operand)]
        if isinstance(value, ast.Call) and getattr(value.func, "attr", None) in ("get", "getenv"):
            return [v for arg in value.args[1:] for v in literals(arg)]
        return []

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Assign):
            continue
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not any(w in n for n in names for w in SECRET_NAME) or names == ["DEV_SECRET_KEY"]:
            continue
        values = literals(node.value) + [
            v
            for call in ast.walk(node.value)
            if isinstance(call, ast.Call) and getattr(call.func, "attr", None) in ("get", "getenv")
            for v in literals(call)
        ]
        found.extend((node.lineno, names[0], v) for v in values)
    return found


def test_no_secret_has_a_value_in_the_code():
    offenders = {
        str(path.relative_to(ROOT)): _literal_secrets(path)
        for path in (ROOT / "project").glob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    # The development key is refused by the production settings (tested above) and marked.
    from project import settings

    assert "dev-only" in settings.DEV_SECRET_KEY
