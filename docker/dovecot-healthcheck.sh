#!/bin/bash
# Health check of the dovecot container: the master answers `doveadm service status`, and
# something listens on each port (IMAP, IMAPS, POP3, POP3S, LMTP and SASL auth for Postfix).
# Quiet on purpose: the ports are read from /proc, no connection is opened (and none logged).
set -euo pipefail

listening() {
    local hex _ local_address state
    hex=$(printf '%04X' "$1")
    while read -r _ local_address _ state _; do
        [[ $state == 0A && ${local_address##*:} == "$hex" ]] && return 0
    done < <(tail -n +2 /proc/net/tcp; tail -n +2 /proc/net/tcp6 2>/dev/null || true)
    return 1
}

if ! doveadm service status >/dev/null 2>&1; then
    echo "unhealthy: the Dovecot master does not answer (doveadm service status)"
    exit 1
fi
for port in ${DOVECOT_HEALTHCHECK_PORTS:-143 993 110 995 24 12345}; do
    if ! listening "$port"; then
        echo "unhealthy: nothing listens on port $port"
        exit 1
    fi
done
echo "healthy: Dovecot runs and listens on ${DOVECOT_HEALTHCHECK_PORTS:-143 993 110 995 24 12345}"
