"""Settings, twelve-factor style: everything that differs between machines comes from the
environment. With nothing set, the project runs embedded (SQLite, a filesystem broker)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("UNIONFLOW_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).lower() in ("1", "true", "yes", "on")


DEBUG = env_bool("DEBUG", False)
# Only a development machine may run without a configured key (project.production refuses it).
DEV_SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "") or DEV_SECRET_KEY
ALLOWED_HOSTS = [
    h
    for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
    if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "treebeard",
    "rules.apps.AutodiscoverRulesConfig",
    # Before viewflow, whose templates would otherwise replace ours (login, error pages).
    "core",
    "viewflow",
    "viewflow.workflow",
    "organizations",
    "cases",
    "cases.attachments",
    "cases.hardship",
    "cases.mediation",
    "cases.remittance",
    "workflows",
    "approvals",
    "notifications",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.sessions.SessionExpiryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.MethodNotAllowedPageMiddleware",
    "core.middleware.NullCharacterMiddleware",
    "core.middleware.TrailContextMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
CSRF_FAILURE_VIEW = "core.views.csrf_failure"
WSGI_APPLICATION = "project.wsgi.application"
AUTH_USER_MODEL = "organizations.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context.nav",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'unionflow.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
        # A persistent connection is checked before reuse: after a database restart the first
        # request reconnects instead of failing on the broken connection.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing at once (web, worker and beat share the file).
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20


def _postgres_options(threshold):
    """Prepared statements: parameters bound by the server, and a statement run `threshold`
    times on a connection is prepared, so PostgreSQL parses it once and, where a transaction
    allows it (core.plans), plans it once (planning the inbox's joins took longer than running
    them). "off" keeps Django's default of parameters bound in the client, for a pooler in
    transaction mode."""
    threshold = threshold.strip().lower() or "5"
    if threshold == "off":
        return {}
    if not (threshold.isascii() and threshold.isdigit()):
        raise ImproperlyConfigured(
            f"DB_PREPARE_THRESHOLD must be a whole number from 0 or 'off', not {threshold!r}"
        )
    return {
        "server_side_binding": True,
        "prepare_threshold": int(threshold),
        # Plans made for the statement's values, unless a transaction asks for reuse
        # (core.plans.generic_plans): see there why.
        "options": "-c plan_cache_mode=force_custom_plan",
    }


def _statement_timeout(value):
    """Seconds a web request's statement may run (or wait for a lock) before PostgreSQL stops
    it, from DB_STATEMENT_TIMEOUT_SECONDS; 0 for none."""
    value = value.strip() or "20"
    if not (value.isascii() and value.isdigit()):
        raise ImproperlyConfigured(
            f"DB_STATEMENT_TIMEOUT_SECONDS must be a whole number of seconds (0 for none), "
            f"not {value!r}"
        )
    return int(value)


# Only web processes (project.wsgi) are held to it: a statement that runs away (a plan gone
# wrong, a lock held by a stuck transaction) would otherwise hold a gunicorn worker until
# gunicorn kills it, with the statement still running. Workers, beat and commands run long
# statements on purpose (exports, imports, the nightly verification, migrations).
DB_STATEMENT_TIMEOUT_SECONDS = (
    _statement_timeout(os.environ.get("DB_STATEMENT_TIMEOUT_SECONDS", ""))
    if os.environ.get("UNIONFLOW_WEB_PROCESS")
    else 0
)

POSTGRES_OPTIONS = {
    **_postgres_options(os.environ.get("DB_PREPARE_THRESHOLD", "")),
    # libpq's default waits as long as the system's TCP does (about two minutes on Linux) on a
    # database host that does not answer; a request should fail with 503 sooner.
    "connect_timeout": int(os.environ.get("DB_CONNECT_TIMEOUT_SECONDS", "5")),
}
if DB_STATEMENT_TIMEOUT_SECONDS:
    POSTGRES_OPTIONS["options"] = " ".join(
        filter(
            None,
            [
                POSTGRES_OPTIONS.get("options", ""),
                f"-c statement_timeout={DB_STATEMENT_TIMEOUT_SECONDS * 1000}",
            ],
        )
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(POSTGRES_OPTIONS)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- Security: login throttling, headers, content security policy --------------------------
# django-axes counts failed logins (the login page, the admin and POST /api/v1/auth/token/)
# and refuses even the right password once the limit is reached, until the cool-off passes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
# "username+ip_address": a username is locked from the address that failed (others may still
# log in); alternatives separated by commas ("username,ip_address" locks either).
AXES_LOCKOUT_PARAMETERS = [
    part.split("+") if "+" in part else part
    for part in os.environ.get("LOGIN_LOCKOUT_BY", "username+ip_address").split(",")
    if part
]
AXES_RESET_ON_SUCCESS = True
# The same client address as the trail and DRF's throttling (NUM_PROXIES aware).
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "core.views.locked_out"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere: every page loads its code from static files. The API
# docs (Swagger UI) get nonces for their inline bootstrap, in project/urls.py only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Errors reported by Django (logs, mail to admins) hide passwords, tokens and ID numbers.
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.logging.SensitiveExceptionReporterFilter"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"  # what people read; the database stores UTC

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Static files (the offline API docs among them) are served by whitenoise straight from the
# apps, so no collectstatic step is needed to run; production may still collect them.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Request bodies other than files (JSON, form fields) are limited to 2.5 MB; uploaded files
# are kept in memory up to 1 MB and streamed to a temporary file beyond. Attachment uploads
# also stop storing a file once it passes its limit (cases/attachments/uploads.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 1_048_576

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.rest.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.rest.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.rest.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": os.environ.get("AUTH_THROTTLE_RATE", "20/min")},
    # Reverse proxies in front of the app whose X-Forwarded-For may be trusted (0: none).
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")) or None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "unionflow API",
    "DESCRIPTION": "Casework of a trade union: hardship aid, labor-dispute mediation, fee remittance.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Cache (shared by web and workers: import progress, throttling) -------------------------
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    # core.cache.RedisCache answers as an empty cache while Redis cannot be reached.
    _cache_timeout = float(os.environ.get("CACHE_TIMEOUT_SECONDS", "1"))
    CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "socket_connect_timeout": _cache_timeout,
                "socket_timeout": _cache_timeout,
                "RETRY_SECONDS": float(os.environ.get("CACHE_RETRY_SECONDS", "5")),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Background work ------------------------------------------------------------------------
# kombu waits for ever on a Redis that accepts but does not answer (a hung server, a half-open
# connection): a request publishing after its commit would hang with it.
_broker_timeout = float(os.environ.get("BROKER_TIMEOUT_SECONDS", "3"))
REDIS_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": _broker_timeout,
    "socket_connect_timeout": _broker_timeout,
}
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_BROKER_TRANSPORT_OPTIONS)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Beat reads crontab hours as the people it serves do ("nightly at 02:30" is Beijing time);
# task ETAs and timestamps stay in UTC (enable_utc).
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request must never hang on a dead broker: the outbox keeps the row and the sweep resends.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# After a failed publish a process leaves the broker alone this long (core.queue).
BROKER_PAUSE_SECONDS = float(os.environ.get("BROKER_PAUSE_SECONDS", "10"))
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "notifications.tasks.sweep_outbox", "schedule": 60.0},
    "workflow-timers": {"task": "workflows.tasks.fire_timers", "schedule": 60.0},
    "task-deadlines": {"task": "approvals.tasks.process_deadlines", "schedule": 60.0},
    "delegation-ends": {"task": "approvals.tasks.return_delegated_tasks", "schedule": 60.0},
    "task-holders": {"task": "approvals.tasks.settle_holders", "schedule": 60.0},
    "hardship-register-reviews": {
        "task": "cases.hardship.tasks.open_due_reviews",
        "schedule": 3600.0,
    },
    "mediation-statutory-terms": {
        "task": "cases.mediation.tasks.enforce_statutory_terms",
        "schedule": 60.0,
    },
    "remittance-reminders": {"task": "cases.remittance.tasks.send_reminders", "schedule": 3600.0},
    "nightly-trail-verification": {
        "task": "reports.tasks.verify_all_trails",
        "schedule": crontab(hour=2, minute=30),
    },
    "export-requeue": {"task": "reports.tasks.requeue_exports", "schedule": 60.0},
    "import-requeue": {"task": "cases.remittance.tasks.requeue_imports", "schedule": 60.0},
    "idempotency-retention": {
        "task": "core.tasks.purge_idempotency_records",
        "schedule": crontab(hour=3, minute=45),
    },
    "export-retention": {
        "task": "reports.tasks.purge_expired_exports",
        "schedule": crontab(hour=3, minute=15),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Notifications --------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Django's default is to wait for ever on a mail server that does not answer, holding the
# worker's process and the delivery's row lock with it.
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT_SECONDS", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "unionflow <noreply@unionflow.local>")
# How long a repeated POST (Idempotency-Key, a page's one-time form key) still gets its first
# result; older records are purged daily.
IDEMPOTENCY_RETENTION_HOURS = int(os.environ.get("IDEMPOTENCY_RETENTION_HOURS", "168"))

# Background jobs a person waits for (imports, exports; core.jobs): queued again when left
# waiting this long or without a worker, failed after a worker stopped on them this often.
UNIONFLOW_JOBS = {
    "REQUEUE_AFTER_SECONDS": int(os.environ.get("JOB_REQUEUE_AFTER_SECONDS", "60")),
    "MAX_ATTEMPTS": int(os.environ.get("JOB_MAX_ATTEMPTS", "3")),
}
UNIONFLOW_OUTBOX = {
    "MAX_ATTEMPTS": int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "8")),
    "BACKOFF_BASE_SECONDS": int(os.environ.get("OUTBOX_BACKOFF_BASE_SECONDS", "30")),
    "BACKOFF_MAX_SECONDS": int(os.environ.get("OUTBOX_BACKOFF_MAX_SECONDS", "3600")),
    # The sweep leaves fresh rows to the normal after-commit path.
    "SWEEP_GRACE_SECONDS": int(os.environ.get("OUTBOX_SWEEP_GRACE_SECONDS", "30")),
    "SWEEP_BATCH_SIZE": int(os.environ.get("OUTBOX_SWEEP_BATCH_SIZE", "200")),
    "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5")),
}


# --- Reports --------------------------------------------------------------------------------
def _whole_number_from_env(name, default, unit=""):
    """A whole number of 1 or more from the environment; anything else refuses to start."""
    raw = os.environ.get(name, "").strip() or str(default)
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ImproperlyConfigured(
            f"{name} must be a whole number{unit}, 1 or more (got {raw!r}); "
            "see README, Configuration."
        )
    return int(raw)


# Export files hold personal data (case lists, trails): a daily sweep deletes each export job
# and its file this many days after it finished (or, stuck waiting or running, was started).
EXPORT_RETENTION_DAYS = _whole_number_from_env("EXPORT_RETENTION_DAYS", 7, unit=" of days")
# A case list of up to this many cases is exported while the caller waits; a longer one only
# as a background export job.
REPORTS_EXPORT_SYNC_MAX_ROWS = _whole_number_from_env("EXPORT_SYNC_MAX_ROWS", 2000)

# The site's address as its users reach it (https://union.example.org): emails link to the
# task or case they are about. Empty: no link.
SITE_URL = os.environ.get("SITE_URL", "").strip()

# --- Sensitive data ---------------------------------------------------------------------------
# Fernet keys (newest first) for encrypted columns, and the key of duplicate-lookup hashes.
# Both derive from SECRET_KEY when unset, which is only acceptable in development.
FIELD_ENCRYPTION_KEYS = [k for k in os.environ.get("FIELD_ENCRYPTION_KEYS", "").split(",") if k]
BLIND_INDEX_KEY = os.environ.get("BLIND_INDEX_KEY", "")
# Keys of the trail's seals (cases.trail.seal), newest first: older ones verify older events.
TRAIL_SEAL_KEYS = [k for k in os.environ.get("TRAIL_SEAL_KEYS", "").split(",") if k.strip()]

# --- Domain parameters ----------------------------------------------------------------------
# Defaults only: administrators override any of these per organization and effective date
# (admin → Parameters). See DOMAIN.md for where each number comes from.
UNIONFLOW_PARAMETERS = {
    # urge (催办): one reminder per task per person within this many hours
    "approvals.urge_interval_hours": 4,
    # remind the assignee this many working days before a task is due
    "approvals.reminder_working_days": 1,
    # a delegation (代理) covers an absence of at most this many days (local practice): a
    # longer one is most likely a mistyped year
    "approvals.delegation_max_days": 366,
    # --- A. hardship aid (困难职工帮扶) ---
    "hardship.living_standard": 900,  # 低保标准, CNY per person per month (per region, by date)
    "hardship.relative_hardship_multiple": 2,  # relative hardship: below 2 × 低保标准
    "hardship.sudden_cost_ratio": "0.8",  # sudden hardship: costs above 80 % of income
    "hardship.county_threshold": 5000,  # county approval above this amount (CNY)
    "hardship.investigation_working_days": 5,
    "hardship.notice_working_days": 5,  # public notice 公示
    "hardship.review_working_days": 5,  # grassroots, town and county reviews
    "hardship.disbursement_working_days": 10,
    "hardship.register_review_months": 12,  # annual review of a register entry
    "hardship.register_review_months_sudden": 6,
    "hardship.exit_notice_working_days": 5,  # 退档 notice
    "hardship.attachment_max_mb": 10,
    # --- B. labor-dispute mediation (劳动争议调解) ---
    "mediation.acceptance_working_days": 3,  # local practice
    "mediation.statutory_days": 15,  # Art. 14: calendar days from receipt
    # Art. 27: one year, counted in calendar months (29 Feb → 28 Feb, 民法典 Art. 202);
    # flagged, does not block acceptance
    "mediation.limitation_months": 12,
    "mediation.arbitral_review_days": 15,  # joint application for arbitral review
    "mediation.collective_min_workers": 10,  # collective case: act through representatives
    "mediation.deadline_reminder_days": 3,  # remind before the statutory deadline
    # --- C. fee remittance (工会经费上解) ---
    "remittance.fund_rate": "0.02",  # 2 % of payroll (工会法 Art. 43)
    "remittance.upper_share_rate": "0.40",  # share remitted upward
    "remittance.due_day": 15,  # of the following month, moved to the next working day
    "remittance.late_fee_daily_rate": "0.005",  # 5 ‰ per day (Beijing); 0 disables
    "remittance.late_fee_cap_ratio": 1,  # cap as a multiple of the unpaid principal; 0: no cap
    "remittance.reminder_working_days": 3,  # remind this many working days before due
    "remittance.dues_rate": "0.005",  # member dues 会费: 0.5 % of the wage
    "remittance.dues_wage_unit": 10,  # ignore the part of the wage under this unit
}


# --- Sessions -------------------------------------------------------------------------------
# A page session ends after SESSION_IDLE_MINUTES without a request (an officer's phone left
# signed in on a desk), and SESSION_MAX_HOURS after signing in, however active: the case files
# hold ID numbers, incomes and illnesses. core.sessions.
def _positive_int(name, default):
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of 1 or more, not {raw!r}")
    return int(raw)


SESSION_IDLE_MINUTES = _positive_int("SESSION_IDLE_MINUTES", 120)
SESSION_MAX_HOURS = _positive_int("SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Passwords, tokens, ID numbers and encrypted values never reach a log line.
    "filters": {"redact": {"()": "core.logging.RedactSensitive"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
