# Dovecot for docker-compose.yml: Debian 12's packages, configured at start from the panel's
# generated configuration (the `mailconfig` job writes it into the shared /config volume).
FROM debian:12-slim

# The snakeoil key that ssl-cert generates during the build (and Dovecot's links to it) are
# deleted: no private key ships in the image (the certificate comes from the mail-tls volume).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-pgsql ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem \
      /etc/dovecot/private/dovecot.pem /etc/dovecot/private/dovecot.key

# Every Maildir belongs to one owner (MAIL_UID:MAIL_GID, the account `vmail`, which also owns the
# quota dict socket): a new named volume mounted on /var/vmail takes this ownership.
ARG MAIL_UID=5000
ARG MAIL_GID=5000
RUN groupadd --system --gid "${MAIL_GID}" vmail \
 && useradd --system --uid "${MAIL_UID}" --gid "${MAIL_GID}" --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin vmail \
 && install -d -o "${MAIL_UID}" -g "${MAIL_GID}" -m 0770 /var/vmail

COPY dovecot-entrypoint.sh /usr/local/bin/dovecot-entrypoint
COPY dovecot-healthcheck.sh /usr/local/bin/dovecot-healthcheck
RUN chmod 0755 /usr/local/bin/dovecot-entrypoint /usr/local/bin/dovecot-healthcheck

# IMAP, IMAPS, POP3, POP3S for clients; LMTP (24) and SASL auth (12345) for Postfix only, on the
# compose network (not published).
EXPOSE 143 993 110 995 24 12345
ENTRYPOINT ["/usr/local/bin/dovecot-entrypoint"]
CMD ["dovecot", "-F"]
