#!/bin/sh
# The one-shot `mailconfig` job of docker-compose.yml (runs in the app image, before anything
# that needs the database schema or the mail configuration):
#   1. python manage.py migrate          the schema, including the lookup views (docs/lookups.md)
#   2. python manage.py mailrole         the mail servers' least-privilege role, with
#                                        MAIL_DB_PASSWORD (its default)
#   3. a self-signed certificate for MAIL_HOSTNAME in the mail-tls volume, unless one is there
#   4. python manage.py mailconfig --output /config
#                                        Postfix and Dovecot configuration for this deployment:
#                                        Postfix reaches Dovecot over TCP (LMTP, SASL) on the
#                                        compose network, both log to the container's output.
# The postfix and dovecot containers start once this has exited 0 and install /config.
set -eu
umask 027

output=${MAILCONFIG_OUTPUT:-/config}
cert=${MAIL_TLS_CERT:-/etc/mail-tls/fullchain.pem}
key=${MAIL_TLS_KEY:-/etc/mail-tls/privkey.pem}
dovecot_host=${MAIL_DOVECOT_HOST:-dovecot}
: "${MAIL_HOSTNAME:?MAIL_HOSTNAME must be set}"

cd "${APP_DIR:-/app}"
python manage.py migrate --noinput
python manage.py mailrole

if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
    echo "mailconfig: no certificate at $cert: making a self-signed one for $MAIL_HOSTNAME." \
         "Replace $cert and $key with a real certificate and restart postfix and dovecot."
    (
        umask 077
        openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 825 \
            -subj "/CN=$MAIL_HOSTNAME" -addext "subjectAltName=DNS:$MAIL_HOSTNAME" \
            -keyout "$key.new" -out "$cert.new" 2>/dev/null
    )
    mv "$key.new" "$key"
    mv "$cert.new" "$cert"
fi

# Start from an empty tree so that nothing a previous version wrote is left behind.
rm -rf "$output/postfix" "$output/dovecot"
python manage.py mailconfig --output "$output" \
    --dovecot-host "$dovecot_host" \
    --tls-cert "$cert" --tls-key "$key" \
    --postfix-log-file /dev/stdout \
    --dovecot-log-file /dev/stderr
echo "mailconfig: configuration written to $output"
