# Postfix for docker-compose.yml: Debian 12's packages, configured at start from the panel's
# generated configuration (the `mailconfig` job writes it into the shared /config volume).
FROM debian:12-slim

# Fixed ids for postfix/postdrop (created before the package would pick free ones), so that a
# persistent queue volume keeps the right owner when the image is rebuilt.
ARG POSTFIX_UID=200
ARG POSTFIX_GID=200
ARG POSTDROP_GID=201
RUN groupadd --system --gid "${POSTFIX_GID}" postfix \
 && groupadd --system --gid "${POSTDROP_GID}" postdrop \
 && useradd --system --uid "${POSTFIX_UID}" --gid postfix --home-dir /var/spool/postfix \
      --no-create-home --shell /usr/sbin/nologin postfix

# "No configuration": the package writes no main.cf; the entrypoint builds it. The snakeoil
# key that ssl-cert generates during the build is deleted: no private key ships in the image
# (the certificate comes from the mail-tls volume).
RUN echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postfix postfix-pgsql ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem \
 && cp /etc/postfix/master.cf /etc/postfix/master.cf.debian

COPY postfix-entrypoint.sh /usr/local/bin/postfix-entrypoint
COPY postfix-healthcheck.sh /usr/local/bin/postfix-healthcheck
RUN chmod 0755 /usr/local/bin/postfix-entrypoint /usr/local/bin/postfix-healthcheck

# The mail queue: a volume, so queued mail survives a re-created container.
VOLUME ["/var/spool/postfix"]
EXPOSE 25 465 587
ENTRYPOINT ["/usr/local/bin/postfix-entrypoint"]
CMD ["postfix", "start-fg"]
