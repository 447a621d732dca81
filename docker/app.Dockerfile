# The panel's image: web (gunicorn), the Celery worker, Celery beat and the one-shot
# `mailconfig` job of docker-compose.yml all run from it.
# Debian 12 (bookworm) with Python 3.11; every dependency pinned by constraints.txt.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# openssl: the mailconfig job makes a self-signed certificate when none was provided.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*

# The panel runs as `mailadmin`. The Celery worker runs as MAIL_UID:MAIL_GID instead (it creates
# and renames Maildirs that Dovecot owns), so /var/vmail starts out owned by that uid/gid: a new
# named volume mounted there takes this ownership.
ARG APP_UID=10001
ARG APP_GID=10001
ARG MAIL_UID=5000
ARG MAIL_GID=5000
RUN groupadd --system --gid "${APP_GID}" mailadmin \
 && useradd --system --uid "${APP_UID}" --gid mailadmin --home-dir /var/lib/mailadmin \
      --no-create-home --shell /usr/sbin/nologin mailadmin \
 && install -d -o mailadmin -g mailadmin -m 0750 \
      /var/lib/mailadmin /var/lib/mailadmin/beat /config /etc/mail-tls \
 && install -d -o "${MAIL_UID}" -g "${MAIL_GID}" -m 0770 /var/vmail

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when the pins change.
# (No package sources yet: this installs the pinned dependencies of the project alone.)
COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt . && pip uninstall -y mailadmin

# The project. manage.py, templates/ and static/ live beside the packages, so every process
# imports the project from /app (PYTHONPATH), the same tree manage.py uses.
COPY . .
RUN pip install --no-deps -c constraints.txt . \
 && install -m 0755 docker/web-healthcheck.py /usr/local/bin/mailadmin-web-healthcheck \
 && install -m 0755 docker/mailconfig.sh /usr/local/bin/mailadmin-mailconfig

ENV PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=mailadmin.settings \
    MAILADMIN_VAR_DIR=/var/lib/mailadmin \
    STATIC_ROOT=/app/staticfiles

# Static files are collected into the image (WhiteNoise serves them). The settings refuse to load
# without a SECRET_KEY; this throw-away value exists only for this build step, never at run time.
RUN SECRET_KEY=collectstatic-build-step-only python manage.py collectstatic --noinput \
 && SECRET_KEY=compile-build-step-only python manage.py compiletranslations

USER mailadmin
EXPOSE 8000
CMD ["gunicorn", "mailadmin.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
