"""Django settings, read from the environment only.

With no environment at all the project runs for development: DEBUG on, a SQLite
file in the data directory and Redis on its default local port. With DEBUG off,
SECRET_KEY and ALLOWED_HOSTS have no defaults, so a deployment that forgot them
stops at start-up instead of running insecurely. deploy/.env.example lists every
variable read here.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from webapp.jobs import task_names

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_str(name: str, default: str | None = None) -> str:
    """The variable's value; an empty value counts as unset."""
    value = os.environ.get(name, "")
    if value.strip():
        return value.strip()
    if default is None:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return default


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable (1/0, true/false, yes/no, on/off)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of 1, 0, true, false, yes, no."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer variable, optionally bounded below."""
    value = os.environ.get(name, "").strip()
    if not value:
        number = default
    else:
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
    return number


def env_list(name: str, default: str | None = None) -> list[str]:
    """A comma-separated list; blank items are dropped."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def other_redis_database(url: str) -> str:
    """The same Redis server's next database (for the last one, 15, the one before)."""
    parts = urlsplit(url)
    number = parts.path.strip("/") or "0"
    if not number.isdigit():
        raise ImproperlyConfigured(f"{url!r} does not end in a Redis database number.")
    database = int(number)
    return urlunsplit(parts._replace(path=f"/{database + 1 if database < 15 else 14}"))


def _package_version() -> str:
    try:
        return importlib.metadata.version("mnist-kde-studio")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --- Core -----------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
# The development key only exists while DEBUG is on; see the module docstring.
SECRET_KEY = env_str(
    "SECRET_KEY", "dev-only-insecure-key-do-not-deploy" if DEBUG else None
)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else None
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
# Read by generator.datasets straight from the environment (where the raw MNIST
# files live); kept here so that every variable the processes read is listed once.
MNIST_DIR = env_str("MNIST_DIR", "")
# The Celery broker. Django's cache (throttle counters) lives elsewhere, by default
# in the next database of the same server, so clearing it never drops a job.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_URL = env_str("CACHE_URL", other_redis_database(REDIS_URL))
if CACHE_URL == REDIS_URL:
    raise ImproperlyConfigured(
        "CACHE_URL must name another Redis database than REDIS_URL (the broker): "
        "clearing the cache would drop the queued jobs."
    )
CODE_VERSION = env_str("CODE_VERSION", _package_version())
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "webapp.accounts",
    "webapp.jobs",
    "webapp.gallery",
    "webapp.sweeps",
    "webapp.sharing",
    "webapp.web",
]

MIDDLEWARE = [
    "webapp.logs.LogContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "webapp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "webapp.middleware.WriteThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it turns a login refused by the lockout into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-wide templates (base layout, registration pages); app pages live
        # in <app>/templates/<app>/.
        "DIRS": [BASE_DIR / "webapp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

_DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'studio.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", _DEFAULT_DATABASE_URL)
_database = dj_database_url.parse(DATABASE_URL)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASE_URL == _DEFAULT_DATABASE_URL:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
    # The web server, the worker and beat write the same file: WAL lets readers go
    # on during a write, IMMEDIATE takes the write lock up front (no deadlocking
    # lock upgrades) and the timeout waits for it instead of failing.
    _database["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    if _database["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with a health check that makes no round trip on a
        # healthy connection (webapp/postgresql/base.py).
        _database["ENGINE"] = "webapp.postgresql"
    _database["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    _database["CONN_HEALTH_CHECKS"] = True
    # The queries of every status poll (webapp.querysets.PreparedQuery) are
    # prepared on their first run; Django's other queries never are. A connection
    # pooler in transaction mode that cannot keep prepared statements (PgBouncer
    # before 1.21) needs DATABASE_PREPARED_STATEMENTS=0.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        _database.setdefault("OPTIONS", {})["prepare_threshold"] = 0
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared by the web processes through Redis) and sessions -------------------

CACHES = {
    "default": {
        "BACKEND": "webapp.cache.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "studio",
    }
}
# In the database only: logging in and staying logged in never depend on Redis
# (a cached copy could also outlive a log-out written while Redis was down).
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Auth -----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes refuses a log-in (browser, admin, API token) for LOGIN_LOCKOUT_MINUTES
# once a client address or a username has LOGIN_FAILURE_LIMIT failures; the
# failures are rows in the database, so log-ins never depend on Redis.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "webapp.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "webapp.accounts.lockout.lockout_response"
CSRF_FAILURE_VIEW = "webapp.errors.csrf_failure"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "web:landing"

# --- Internationalisation, static files -----------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise warns on every start when collectstatic has not created it yet.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # No manifest: templates keep rendering when collectstatic has not run.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve app static files straight from the apps, so `make run` needs no
# collectstatic step.
WHITENOISE_USE_FINDERS = True

# --- Security: HTTPS, proxies, cookies, Content-Security-Policy -----------------------

# HTTPS only: redirect plain HTTP, secure cookies, HSTS. On by default once DEBUG
# is off; SECURE_SSL=0 serves plain HTTP (`make run` on localhost does that).
SECURE_SSL = env_bool("SECURE_SSL", not DEBUG)
SECURE_SSL_REDIRECT = SECURE_SSL
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = (
    env_int("HSTS_SECONDS", 31_536_000, minimum=0) if SECURE_SSL else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
# A proxy that terminates TLS names the client's scheme in a header such as
# X-Forwarded-Proto; only that proxy may set it (it must drop the client's own).
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER", "")
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"),
        "https",
    )
# How many proxies of ours append to X-Forwarded-For; 0 ignores the header. See
# webapp/client_ip.py: throttles and the login lockout count per client address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
SESSION_COOKIE_HTTPONLY = True
# Scripts take the CSRF token from the page's form, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# No inline scripts or styles anywhere (tests/web/test_templates_security.py).
# Images alone may be data: URLs: every page's favicon, the sample strips, and a
# gallery's images, inlined so that its page is not one request per image.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- REST framework -------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns "not logged in" into a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webapp.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["webapp.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "webapp.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "webapp.filter_backends.ListFilterBackend",
        "webapp.filter_backends.NaturalOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["webapp.throttles.WriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("AUTH_THROTTLE_RATE", "30/minute"),
        "generate": env_str("GENERATE_THROTTLE_RATE", "120/minute"),
        "write": env_str("WRITE_THROTTLE_RATE", "120/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "MNIST KDE Studio API",
    "DESCRIPTION": (
        "Train PCA + kernel density models of handwritten digits and generate "
        "images from them. Jobs run on Celery workers; poll /api/v1/jobs/{id}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["webapp.schema.document_paths_as_written"],
    # Swagger UI's assets are served from the sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Jobs and Celery ------------------------------------------------------------------

# Soft limits raise SoftTimeLimitExceeded inside the task (the job is marked
# failed); hard limits kill the process a little later if that did not stop it.
# A job the hard limit kills is failed at once, never retried.
TRAINING_SOFT_TIME_LIMIT = env_int("TRAINING_TIME_LIMIT", 3600, minimum=10)
TRAINING_HARD_TIME_LIMIT = env_int(
    "TRAINING_HARD_TIME_LIMIT",
    TRAINING_SOFT_TIME_LIMIT + 120,
    minimum=TRAINING_SOFT_TIME_LIMIT + 1,
)
GENERATION_SOFT_TIME_LIMIT = env_int("GENERATION_TIME_LIMIT", 600, minimum=10)
GENERATION_HARD_TIME_LIMIT = env_int(
    "GENERATION_HARD_TIME_LIMIT",
    GENERATION_SOFT_TIME_LIMIT + 60,
    minimum=GENERATION_SOFT_TIME_LIMIT + 1,
)
SWEEP_SOFT_TIME_LIMIT = 60
SWEEP_HARD_TIME_LIMIT = 90

# A running job's worker refreshes the heartbeat every JOB_HEARTBEAT_SECONDS; one
# silent for JOB_STALE_AFTER_SECONDS is presumed dead and may be taken over.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10, minimum=0)
JOB_STALE_AFTER_SECONDS = env_int("JOB_STALE_AFTER_SECONDS", 30, minimum=1)
if JOB_HEARTBEAT_SECONDS and JOB_STALE_AFTER_SECONDS < 3 * JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "JOB_STALE_AFTER_SECONDS must be at least three heartbeats "
        f"({3 * JOB_HEARTBEAT_SECONDS} s), or live jobs would be taken over."
    )
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
# The sweeper's period: with the stale threshold, how soon the job of a worker
# killed outright (SIGKILL, a lost machine) runs again, about 45 s by default.
JOB_SWEEP_INTERVAL_SECONDS = env_int("JOB_SWEEP_INTERVAL_SECONDS", 15, minimum=1)
# A job queued this long since it was last sent is sent again by the sweeper if
# the broker no longer holds its message (lost in a flushed or restarted Redis,
# or never sent by a web process that died after its commit).
JOB_QUEUED_GRACE_SECONDS = env_int("JOB_QUEUED_GRACE_SECONDS", 60, minimum=1)
# Progress writes closer together than this are skipped (phase changes never are).
JOB_PROGRESS_WRITE_SECONDS = 0.5
MODEL_CACHE_SIZE = env_int("MODEL_CACHE_SIZE", 4, minimum=1)
# Web processes sample bigger models only through generation jobs (workers).
MAX_SERVED_MODEL_MB = env_int("MAX_SERVED_MODEL_MB", 64, minimum=1)
# Per user: jobs queued or running at once, and the bytes of model files and
# images kept (summed from the rows, so deleting frees it).
MAX_ACTIVE_TRAINING_JOBS = env_int("MAX_ACTIVE_TRAINING_JOBS", 4, minimum=1)
MAX_ACTIVE_GENERATION_JOBS = env_int("MAX_ACTIVE_GENERATION_JOBS", 20, minimum=1)
STORAGE_QUOTA_MB = env_int("STORAGE_QUOTA_MB", 500, minimum=1)
# Training runs one parameter sweep may hold (its grid's distinct combinations).
MAX_SWEEP_COMBINATIONS = env_int("MAX_SWEEP_COMBINATIONS", 50, minimum=1)
GALLERY_EVALUATION = env_bool("GALLERY_EVALUATION", True)
# Data sets whose evaluation classifier a worker fits (once; then cached in
# DATA_DIR) when it starts, so the first gallery's figures do not wait for it.
EVALUATION_PREPARE_DATASETS = env_list("EVALUATION_PREPARE_DATASETS", "mnist")
EVALUATION_SOFT_TIME_LIMIT = 300
EVALUATION_HARD_TIME_LIMIT = 360

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The job row is the only status anyone reads; Celery results are never stored.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes a pool process's database connection before and
# after every task unless this is set, and then only every this many tasks: a
# new PostgreSQL connection (and server process) per job otherwise. Between,
# tasks treat their connection as requests do theirs (CONN_MAX_AGE, health
# checks, a broken one dropped): see worker/celery_app.py.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_DEFAULT_QUEUE = "generation"
# The sweeper has a queue of its own, which every worker consumes besides its
# job queues: it never waits behind a queue of hour-long trainings.
MAINTENANCE_QUEUE = "maintenance"
CELERY_TASK_ROUTES = {
    task_names.TRAIN: {"queue": "training"},
    task_names.GENERATE: {"queue": "generation"},
    task_names.SWEEP: {"queue": MAINTENANCE_QUEUE},
    task_names.FEED_PARAMETER_SWEEPS: {"queue": MAINTENANCE_QUEUE},
    task_names.EVALUATE_GALLERY: {"queue": "generation"},
    task_names.PREPARE_EVALUATION: {"queue": "generation"},
}
# Redis hands an unacknowledged message to another worker after the visibility
# timeout; it must outlast the longest task or a live training would be delivered
# twice (harmless, the claim refuses it, but wasteful). The heartbeat sweeper, not
# this timeout, recovers the jobs of a worker killed outright.
CELERY_VISIBILITY_TIMEOUT = env_int(
    "CELERY_VISIBILITY_TIMEOUT", 2 * TRAINING_HARD_TIME_LIMIT, minimum=1
)
_LONGEST_HARD_TIME_LIMIT = max(TRAINING_HARD_TIME_LIMIT, GENERATION_HARD_TIME_LIMIT)
if _LONGEST_HARD_TIME_LIMIT >= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be above the longest hard time limit "
        f"({_LONGEST_HARD_TIME_LIMIT} s)."
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# kombu's Redis transport with one client for its commands (webapp/jobs/dispatch.py).
# Not for rediss:// (kombu sets up TLS by the scheme's name) or other transports.
if urlsplit(CELERY_BROKER_URL).scheme == "redis":
    CELERY_BROKER_TRANSPORT = "webapp.jobs.dispatch:RedisTransport"
# The in-memory scheduler: the default one keeps its state in a shelve (pickle)
# file, and a 60-second sweep loses nothing by forgetting its last run.
CELERY_BEAT_SCHEDULER = "celery.beat:Scheduler"
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-jobs": {
        "task": task_names.SWEEP,
        "schedule": float(JOB_SWEEP_INTERVAL_SECONDS),
        # A sweep nobody ran in time is dropped: the next one does its work.
        "options": {"expires": float(JOB_SWEEP_INTERVAL_SECONDS)},
    },
    # The safety net of the parameter sweeps' feeding (a job's end feeds at once).
    "feed-parameter-sweeps": {
        "task": task_names.FEED_PARAMETER_SWEEPS,
        "schedule": float(JOB_SWEEP_INTERVAL_SECONDS),
    },
}

# --- Logging --------------------------------------------------------------------------

# text: one readable line per event (make run); json: one JSON object per line,
# with job_id, user_id and task_id where they apply (webapp/logs.py), for a log
# collector.
LOG_FORMAT = env_str("LOG_FORMAT", "text").lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "webapp.logs.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "processName": "process",
            },
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's own console handler (DEBUG only) would print its lines a second
    # time, outside the chosen format.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}
