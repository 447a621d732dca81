#!/bin/bash
# Health check of the postfix container: the master daemon runs and something listens on each
# SMTP port. Quiet on purpose: it makes the test of `postfix status` (`master -t`) without that
# command's log line, and reads the listening sockets from /proc instead of connecting.
set -euo pipefail

listening() {
    local hex _ local_address state
    hex=$(printf '%04X' "$1")
    while read -r _ local_address _ state _; do
        [[ $state == 0A && ${local_address##*:} == "$hex" ]] && return 0
    done < <(tail -n +2 /proc/net/tcp; tail -n +2 /proc/net/tcp6 2>/dev/null || true)
    return 1
}

daemon_directory=$(postconf -h daemon_directory)
queue_directory=$(postconf -h queue_directory)
# `master -t` exits 0 when no master holds the lock on pid/master.pid, i.e. when none runs.
if (cd "$queue_directory" && "$daemon_directory/master" -t 2>/dev/null); then
    echo "unhealthy: the Postfix master is not running"
    exit 1
fi
for port in ${POSTFIX_HEALTHCHECK_PORTS:-25 587 465}; do
    if ! listening "$port"; then
        echo "unhealthy: nothing listens on port $port"
        exit 1
    fi
done
echo "healthy: the Postfix master runs and listens on ${POSTFIX_HEALTHCHECK_PORTS:-25 587 465}"
