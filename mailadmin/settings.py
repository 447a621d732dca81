"""Django settings for mailadmin. Everything that differs between machines comes from the
environment; the defaults give a newcomer a working panel on SQLite with eager tasks."""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from mailadmin.env import env_bool, env_choice, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MAILADMIN_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally (api/docs.py)
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "domains",
    "audit",
    "mailhost",
    "api",
    "panel",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.ApiBodyLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the user's choice (a cookie set by /i18n/setlang/), else Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # A user whose role must use 2FA and has no device yet may only enrol (panel/middleware.py).
    "panel.middleware.TwoFactorEnrolmentMiddleware",
]

ROOT_URLCONF = "mailadmin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "panel.context_processors.panel",
            ],
        },
    },
]

WSGI_APPLICATION = "mailadmin.wsgi.application"

# SQLite by default so the panel runs with zero set-up; PostgreSQL is what production, CI and the
# mail servers use (the lookup views exist only there).
if not env_str("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env_url(
            "DATABASE_URL",
            f"sqlite:///{VAR_DIR / 'mailadmin.sqlite3'}",
            schemes=["postgres", "postgresql", "pgsql", "sqlite"],
        ),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
DATABASES["default"].setdefault("TEST", {})
if env_str("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"]["NAME"] = env_str("TEST_DATABASE_NAME")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Panel users log in with ModelBackend; mailbox owners with their address and mail password
# through panel.auth.MailboxBackend, which answers only `authenticate(address=..., password=...)`
# and never makes a panel user (see panel/auth.py).
# django-axes first: every django.contrib.auth.authenticate(request, ...) call, whatever backend
# answers it, is refused while its account or source address is locked out (docs/security.md).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, auditing the rehash Django does at login (accounts/backends.py).
    "accounts.backends.AdminBackend",
    # Mailbox owners (address + mail password); never an app password, never an admin session.
    "panel.auth.MailboxBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
# Locked per account and, separately, per source address; the account is the lowercased
# username as typed, so a name that does not exist is counted and locked the same way.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "accounts.throttling.login_username"
AXES_COOLOFF_TIME = "accounts.throttling.cool_off"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = False  # a success must not clear a guessing address's count
AXES_VERBOSE = False
MAILADMIN_LOGIN_COOLOFF_SECONDS = env_int("MAILADMIN_LOGIN_COOLOFF_SECONDS", 300)
MAILADMIN_LOGIN_COOLOFF_MAX_SECONDS = env_int("MAILADMIN_LOGIN_COOLOFF_MAX_SECONDS", 86400)
# Two-factor login (accounts/twofactor.py): the name authenticator apps show, the throttle on
# wrong codes (after n failures the next try waits factor * 2^(n-1) s), and the codes one
# password login may try before the password is asked again.
OTP_TOTP_ISSUER = env_str("MAILADMIN_2FA_ISSUER", "mailadmin")
OTP_TOTP_THROTTLE_FACTOR = env_int("MAILADMIN_2FA_THROTTLE_FACTOR", 1)
OTP_STATIC_THROTTLE_FACTOR = env_int("MAILADMIN_2FA_THROTTLE_FACTOR", 1)
MAILADMIN_2FA_MAX_TRIES = env_int("MAILADMIN_2FA_MAX_TRIES", 5)
# A password login waits this long (seconds) for its second factor.
MAILADMIN_2FA_PENDING_SECONDS = env_int("MAILADMIN_2FA_PENDING_SECONDS", 300)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ro", "Română")]
# Catalogs: locale/<lang>/LC_MESSAGES/django.po is committed; the .mo beside it is built by
# `manage.py compiletranslations` (pure Python, no GNU gettext needed).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: strict by default, relaxed only where DEBUG says this is a developer's machine.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks speak plain HTTP
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO") else None
)
X_FRAME_OPTIONS = "DENY"
# Every page and response: scripts, styles, images and fonts from this host only, no inline
# script or style, no framing, forms post here only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # Swagger UI draws its icons from data: URIs
        "font-src": [SELF],
        "connect-src": [SELF],  # Swagger UI fetches the schema and sends "try it out" calls
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}

# Celery: with no broker configured, tasks run eagerly in-process (the zero-set-up panel).
_REDIS_SCHEMES = ["redis", "rediss", "unix"]
REDIS_URL = env_url("REDIS_URL", schemes=_REDIS_SCHEMES)
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", REDIS_URL, schemes=[*_REDIS_SCHEMES, "amqp", "amqps"]
)
CELERY_RESULT_BACKEND = env_url(
    "CELERY_RESULT_BACKEND", CELERY_BROKER_URL or "", schemes=[*_REDIS_SCHEMES, "amqp", "amqps"]
)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a killed worker's task goes back to the queue
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message not acknowledged within this time is handed out again (Redis transport): longer
# than the longest task (tasks.LIMITS) plus the longest retry countdown.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_BEAT_SCHEDULE = {
    # Operations whose message never left (broker down) or was lost are sent again.
    "mailhost-sweep": {
        "task": "mailhost.sweep",
        "schedule": float(env_int("MAILADMIN_SWEEP_SECONDS", 60)),
    },
    # Every connected worker refreshes its host's heartbeat (broadcast queue).
    "mailhost-heartbeat": {
        "task": "mailhost.heartbeat",
        "schedule": 30.0,
        "options": {"queue": "broadcast", "expires": 30},
    },
    "mailhost-purge-archives": {"task": "mailhost.purge_archives", "schedule": 3600.0},
    "mailhost-purge-operations": {"task": "mailhost.purge_operations", "schedule": 86400.0},
    "mailhost-quota-check": {"task": "mailhost.quota_check", "schedule": 300.0},
    "mailhost-quota-recalc-nightly": {
        "task": "mailhost.quota_recalc_all",
        "schedule": crontab(hour=3, minute=17),
    },
    # One snapshot of each host's Postfix queue a minute (routed to the host's queue), and
    # the purge of those older than MAILADMIN_QUEUE_SNAPSHOT_KEEP_HOURS.
    "mailhost-queue-snapshot": {
        "task": "mailhost.queue_snapshot_all",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "mailhost-queue-snapshot-purge": {"task": "mailhost.queue_snapshot_purge", "schedule": 3600.0},
    # Pending domains go live once their TXT record appears (issue 7).
    "domains-verify-pending": {"task": "domains.verify_pending", "schedule": 900.0},
    # Audit events older than MAILADMIN_AUDIT_RETENTION_DAYS go, once a day.
    "audit-purge": {"task": "audit.purge", "schedule": crontab(hour=4, minute=7)},
    # Trash items past MAILADMIN_TRASH_RETENTION_DAYS are deleted for good (issue 11).
    "domains-trash-purge": {"task": "domains.trash_purge_expired", "schedule": 3600.0},
}

# A shared cache (API throttle counters) when Redis is configured; per-process memory otherwise.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
# DRF's rate form: a number, a slash and a period (s, m, h, d or a word starting with one).
# `off` disables the limit.
MAILADMIN_API_RATE = (
    env_str("MAILADMIN_API_RATE", "600/min", pattern=r"[0-9]+/[smhd][a-z]*|off").replace("off", "")
    or None
)
# API request bodies: larger ones answer 413, JSON nested deeper answers 400 (docs/security.md).
MAILADMIN_API_MAX_BODY_BYTES = env_int("MAILADMIN_API_MAX_BODY_BYTES", 1048576)
MAILADMIN_API_MAX_JSON_DEPTH = env_int("MAILADMIN_API_MAX_JSON_DEPTH", 16)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mailadmin API",
    "DESCRIPTION": "Scoped REST API for domains, mailboxes, aliases and quotas.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets that share a field name get names of their own (Domain.kind keeps "KindEnum").
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "domains.models.DomainKind",
        "TrashItemKindEnum": "domains.models.TrashItemKind",
        "OperationKindEnum": "mailhost.models.OperationKind",
        "OperationStateEnum": "mailhost.models.OperationState",
        "MailHostRoleEnum": "mailhost.models.MailHostRole",
        "RoleEnum": "accounts.models.User.Role",
    },
}

# --- The mail service -------------------------------------------------------------------------
# Where Dovecot keeps Maildirs, and the numeric owner of every mail file.
MAIL_VMAIL_ROOT = env_str("MAIL_VMAIL_ROOT", "/var/vmail")
MAIL_UID = env_int("MAIL_UID", 5000)
MAIL_GID = env_int("MAIL_GID", 5000)
MAIL_HOSTNAME = env_str("MAIL_HOSTNAME", "mail.example.net")

# --- Mail-host operations (mailhost/, docs/architecture.md) ----------------------------------
# Set on a mail host's worker: who it is and what it serves. Empty on the panel.
MAILHOST_NAME = env_str("MAILHOST_NAME")
MAILHOST_ROLE = env_str("MAILHOST_ROLE", "mail")  # mail (Postfix+Dovecot), mx, store
MAILHOST_POSTFIX_DIR = env_str("MAILHOST_POSTFIX_DIR")  # postfix -c DIR
MAILHOST_DOVECOT_CONF = env_str("MAILHOST_DOVECOT_CONF")  # doveadm -c FILE
MAILHOST_STACK_ROOT = env_str("MAILHOST_STACK_ROOT")  # a `manage.py mailstack` instance
# A host whose worker has been silent this long shows as down.
MAILADMIN_HOST_DOWN_SECONDS = env_int("MAILADMIN_HOST_DOWN_SECONDS", 120)
# A pending operation sent this long ago without running is sent again by the sweep.
MAILADMIN_OPERATION_RESEND_SECONDS = env_int("MAILADMIN_OPERATION_RESEND_SECONDS", 900)
MAILADMIN_OPERATION_MAX_RETRIES = env_int("MAILADMIN_OPERATION_MAX_RETRIES", 6)
MAILADMIN_OPERATION_RETRY_BASE_SECONDS = env_int("MAILADMIN_OPERATION_RETRY_BASE_SECONDS", 5)
MAILADMIN_OPERATION_KEEP_DAYS = env_int("MAILADMIN_OPERATION_KEEP_DAYS", 30)
# A deleted mailbox's Maildir is kept this long (restorable), then purged.
MAILADMIN_MAILDIR_RETENTION_DAYS = env_int("MAILADMIN_MAILDIR_RETENTION_DAYS", 30)
# Audit events are kept this long, then purged by beat (audit.purge, daily).
MAILADMIN_AUDIT_RETENTION_DAYS = env_int("MAILADMIN_AUDIT_RETENTION_DAYS", 365, min_value=1)
# A deleted domain or mailbox stays in the trash (restorable, its names reserved) this long;
# its archived Maildirs are kept at least as long.
MAILADMIN_TRASH_RETENTION_DAYS = env_int("MAILADMIN_TRASH_RETENTION_DAYS", 30, min_value=1)
# The Postfix queue: snapshots (one per host per minute) are kept this long; the panel waits
# this many seconds for a host's worker to answer a queue list.
MAILADMIN_QUEUE_SNAPSHOT_KEEP_HOURS = env_int("MAILADMIN_QUEUE_SNAPSHOT_KEEP_HOURS", 48)
MAILADMIN_QUEUE_LIST_TIMEOUT = env_int("MAILADMIN_QUEUE_LIST_TIMEOUT", 20)

# --- Tenant safety (docs/security.md) ---------------------------------------------------------
# More names of this service (other MX hosts, the panel): each reserves its registrable domain,
# like MAIL_HOSTNAME does, against tenants.
MAILADMIN_SERVER_HOSTNAMES = env_list("MAILADMIN_SERVER_HOSTNAMES")
# Names (and everything under them) only a superadmin may add: big mailbox providers and
# special-use names. Replaces the default list when set.
MAILADMIN_RESERVED_DOMAINS = env_list(
    "MAILADMIN_RESERVED_DOMAINS",
    "gmail.com,googlemail.com,google.com,outlook.com,hotmail.com,live.com,msn.com,"
    "microsoft.com,yahoo.com,ymail.com,aol.com,icloud.com,me.com,mac.com,apple.com,"
    "proton.me,protonmail.com,pm.me,gmx.com,gmx.net,gmx.de,web.de,t-online.de,mail.com,"
    "yandex.ru,yandex.com,mail.ru,zoho.com,fastmail.com,tutanota.com,tuta.io,mailbox.org,"
    "posteo.de,qq.com,163.com,126.com,naver.com,"
    "localhost,localdomain,local,internal,invalid,onion,arpa",
)
# Relay transports may point at loopback, private and link-local networks, local names and
# UNIX sockets (off: only public next hops).
MAILADMIN_TRANSPORT_ALLOW_INTERNAL = env_bool("MAILADMIN_TRANSPORT_ALLOW_INTERNAL", False)
# Work one request may ask for: recipients of one alias, forwards of one mailbox.
MAILADMIN_MAX_ALIAS_RECIPIENTS = env_int("MAILADMIN_MAX_ALIAS_RECIPIENTS", 500)
MAILADMIN_MAX_FORWARDS = env_int("MAILADMIN_MAX_FORWARDS", 50)
# The largest quota of one mailbox, and the largest size any quota or quota limit may be given
# (a domain's total, a reseller's pool): above it a quota is a typo, not a plan. 16 TiB.
MAILADMIN_MAX_QUOTA_BYTES = env_int(
    "MAILADMIN_MAX_QUOTA_BYTES", 16 * 1024**4, min_value=1, max_value=2**63 - 1
)
# Alias domains of one domain: each repeats every address of its target in the lookup tables.
MAILADMIN_MAX_ALIAS_DOMAINS = env_int("MAILADMIN_MAX_ALIAS_DOMAINS", 10)
# App passwords of one mailbox (each is a lookup row Dovecot may be asked for).
MAILADMIN_MAX_APP_PASSWORDS = env_int("MAILADMIN_MAX_APP_PASSWORDS", 20)
# Domain verification (TXT record) lookups: these name servers ("ip" or "ip:port"; empty: the
# machine's resolv.conf), and how long one check may wait for them, in seconds.
MAILADMIN_DNS_NAMESERVERS = env_list("MAILADMIN_DNS_NAMESERVERS")
MAILADMIN_DNS_TIMEOUT = env_float("MAILADMIN_DNS_TIMEOUT", 5.0)
# How the mail servers reach the database: its own least-privilege role (see `manage.py mailrole`).
MAIL_DB_HOST = env_str("MAIL_DB_HOST", "127.0.0.1")
MAIL_DB_PORT = env_int("MAIL_DB_PORT", 5432, min_value=1, max_value=65535)
MAIL_DB_NAME = env_str("MAIL_DB_NAME", DATABASES["default"].get("NAME", "mailadmin"))
MAIL_DB_ROLE = env_str("MAIL_DB_ROLE", "mailserver")
MAIL_DB_PASSWORD = env_str("MAIL_DB_PASSWORD", "")
# Where Postfix finds Dovecot's LMTP and SASL services ("" = local UNIX sockets), and the TLS pair.
MAIL_DOVECOT_HOST = env_str("MAIL_DOVECOT_HOST", "")
MAIL_TLS_CERT = env_str("MAIL_TLS_CERT", "")
MAIL_TLS_KEY = env_str("MAIL_TLS_KEY", "")
# Mailbox password hashing: the scheme Dovecot reads from the {SCHEME} prefix, and its cost.
MAIL_PASSWORD_SCHEME = env_choice(
    "MAIL_PASSWORD_SCHEME", "ARGON2ID", ["ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT"]
)
MAIL_ARGON2_TIME_COST = env_int("MAIL_ARGON2_TIME_COST", 3)
MAIL_ARGON2_MEMORY_KIB = env_int("MAIL_ARGON2_MEMORY_KIB", 65536)
MAIL_ARGON2_PARALLELISM = env_int("MAIL_ARGON2_PARALLELISM", 1)
MAIL_BCRYPT_ROUNDS = env_int("MAIL_BCRYPT_ROUNDS", 12)
MAIL_MIN_PASSWORD_LENGTH = env_int("MAIL_MIN_PASSWORD_LENGTH", 10)
# Ceilings on the cost of an imported hash (docs/security.md): Dovecot pays it on every login.
MAIL_IMPORT_ARGON2_MAX_TIME_COST = env_int("MAIL_IMPORT_ARGON2_MAX_TIME_COST", 4)
MAIL_IMPORT_ARGON2_MAX_MEMORY_KIB = env_int("MAIL_IMPORT_ARGON2_MAX_MEMORY_KIB", 65536)
MAIL_IMPORT_ARGON2_MAX_PARALLELISM = env_int("MAIL_IMPORT_ARGON2_MAX_PARALLELISM", 4)
MAIL_IMPORT_BCRYPT_MAX_COST = env_int("MAIL_IMPORT_BCRYPT_MAX_COST", 12)
MAIL_IMPORT_SHA512_MAX_ROUNDS = env_int("MAIL_IMPORT_SHA512_MAX_ROUNDS", 200000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
    },
}
