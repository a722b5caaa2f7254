#!/usr/bin/env bash
# One virtualenv per peer under bench/peers/.venvs/<venv>, from requirements/<venv>.txt.
#
#   bench/peers/setup_venvs.sh                # every venv, qtasks (this checkout) included
#   bench/peers/setup_venvs.sh celery saq     # only these
#   bench/peers/setup_venvs.sh postgres       # the venvs one broker needs:
#                                             #   redis | postgres | rabbitmq | nats
#
# The qtasks venv installs this checkout (editable) with the drivers of every broker.
# PYTHON picks the interpreter the venvs are made from (default python3).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
declare -A BY_BROKER=(
  [redis]="qtasks celery dramatiq rq arq taskiq huey saq"
  [postgres]="qtasks procrastinate pgqueuer saq"
  [rabbitmq]="qtasks celery dramatiq taskiq_aio_pika"
  [nats]="qtasks taskiq_nats faststream"
)
want=()
for arg in "$@"; do
  if [[ -n "${BY_BROKER[$arg]:-}" ]]; then want+=(${BY_BROKER[$arg]}); else want+=("$arg"); fi
done
if [[ ${#want[@]} -eq 0 ]]; then
  want=(qtasks)
  for f in "$HERE"/requirements/*.txt; do want+=("$(basename "$f" .txt)"); done
fi
declare -A done_=()
for v in "${want[@]}"; do
  [[ -n "${done_[$v]:-}" ]] && continue
  done_[$v]=1
  venv="$HERE/.venvs/$v"
  echo "== $v -> $venv"
  [[ -x "$venv/bin/python" ]] || "$PY" -m venv "$venv"
  if [[ "$v" == qtasks ]]; then
    "$venv/bin/pip" install -q -e "$ROOT[redis,postgres,nats,amqp]"
  else
    "$venv/bin/pip" install -q -r "$HERE/requirements/$v.txt"
  fi
done
