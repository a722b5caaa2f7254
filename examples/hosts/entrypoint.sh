#!/bin/sh
# Container entrypoint of a qtasks worker. `exec` makes the worker PID 1 itself, so the
# container runtime's SIGTERM (docker stop, a Kubernetes pod deletion) reaches it and it
# shuts down gracefully; give the runtime a stop timeout above shutdown_grace
# (docker stop -t 30, terminationGracePeriodSeconds: 30).
set -eu
exec qtasks -A "${QTASKS_APP:-tasks:app}" run \
    --processes "${QTASKS_PROCESSES:-1}" \
    --log-level "${QTASKS_LOG_LEVEL:-INFO}"
