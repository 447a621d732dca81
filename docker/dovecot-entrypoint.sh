#!/bin/bash
# Entrypoint of the dovecot container (docker/dovecot.Dockerfile).
#
# Waits for the panel's generated configuration in $MAILCONFIG_DIR/dovecot (written by the
# one-shot `mailconfig` service of docker-compose.yml), installs it into /etc/dovecot (the
# generated dovecot.conf is complete and names the two .ext files there), makes sure the vmail
# root belongs to the mail uid/gid, checks the result, then runs the command: by default
# `dovecot -F` (the master in the foreground).
set -euo pipefail

source_dir=${MAILCONFIG_DIR:-/config}/dovecot
wait_seconds=${MAILCONFIG_WAIT_SECONDS:-300}
etc=/etc/dovecot
vmail_root=${MAIL_VMAIL_ROOT:-/var/vmail}
files=(dovecot.conf dovecot-sql.conf.ext dovecot-sql-app-passwords.conf.ext dovecot-dict-sql.conf.ext)

log() { echo "dovecot-entrypoint: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

wait_for_config() {
    local deadline=$((SECONDS + wait_seconds)) said="" f missing
    while :; do
        missing=""
        for f in "${files[@]}"; do
            [ -s "$source_dir/$f" ] || missing+=" $f"
        done
        [ -z "$missing" ] && return 0
        ((SECONDS < deadline)) \
            || die "no generated configuration in $source_dir after ${wait_seconds}s" \
                "(missing:$missing; the mailconfig service writes it: did it run and succeed?)"
        [ -n "$said" ] || log "waiting for the generated configuration in $source_dir"
        said=1
        sleep 2
    done
}

install_config() {
    # The .ext files hold the database password: root and the dovecot group only
    # (auth and dict run as user dovecot).
    install -o root -g dovecot -m 0640 \
        "$source_dir/dovecot-sql.conf.ext" "$source_dir/dovecot-sql-app-passwords.conf.ext" \
        "$source_dir/dovecot-dict-sql.conf.ext" "$etc/"
    install -o root -g root -m 0644 "$source_dir/dovecot.conf" "$etc/dovecot.conf"
}

prepare_vmail() {
    local uid gid
    uid=$(doveconf -h mail_uid)
    gid=$(doveconf -h mail_gid)
    if [ -z "$uid" ] || [ -z "$gid" ]; then
        die "the generated dovecot.conf sets no mail_uid/mail_gid"
    fi
    # Only the root: the Maildirs below are Dovecot's and the worker's, all with this owner.
    install -d -m 0770 "$vmail_root"
    chown "$uid:$gid" "$vmail_root"
}

check_config() {
    local listeners
    doveconf -n >/dev/null || die "dovecot.conf does not parse (doveconf -n)"
    # Separate containers: Postfix reaches LMTP and SASL auth over TCP (mailconfig --dovecot-host).
    listeners=$(doveconf -n | awk '/^service [^ ]+ \{/ { svc = $2 } /^  inet_listener / { print svc }')
    grep -qx lmtp <<<"$listeners" \
        || die "no TCP listener for LMTP: generate with mailconfig --dovecot-host (MAIL_DOVECOT_HOST)"
    grep -qx auth <<<"$listeners" \
        || die "no TCP listener for SASL auth: generate with mailconfig --dovecot-host"
    if [ "$(doveconf -h ssl)" = no ]; then
        log "warning: ssl = no: IMAPS (993) and POP3S (995) are off and logins need TLS elsewhere"
    fi
}

wait_for_config
install_config
prepare_vmail
check_config
log "configuration installed from $source_dir"
exec "$@"
