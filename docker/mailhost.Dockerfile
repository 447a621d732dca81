# The mail host's Celery worker (docker-compose service `mailhost`): the panel's code plus the
# Postfix and Dovecot command-line tools, never started here. It runs beside the postfix and
# dovecot containers, sharing their configuration, queue, sockets, Maildirs and process
# namespace, so `postfix -c /etc/postfix reload` and `doveadm reload` reach the running masters.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postfix postfix-pgsql dovecot-core dovecot-pgsql \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem \
      /etc/dovecot/private/dovecot.pem /etc/dovecot/private/dovecot.key

ARG MAIL_UID=5000
ARG MAIL_GID=5000
RUN groupadd --system --gid "${MAIL_GID}" vmail \
 && useradd --system --uid "${MAIL_UID}" --gid "${MAIL_GID}" --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin vmail

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt . && pip uninstall -y mailadmin
COPY . .
RUN pip install --no-deps -c constraints.txt .

ENV PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=mailadmin.settings \
    MAILADMIN_VAR_DIR=/var/lib/mailadmin

# Root: it signals the root-owned Postfix and Dovecot masters and moves Maildirs owned by vmail.
# Its commands are an allowlist of argv lists (mailhost/commands.py), never a shell.
CMD ["sh", "-c", "exec celery --app=mailadmin worker --loglevel=INFO --concurrency=1 --hostname=mailhost@%h --queues=host.${MAILHOST_NAME},mailhost,broadcast"]
