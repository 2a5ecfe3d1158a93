#!/bin/sh
# The LoanBridge image's entrypoint: the command names the process.
#   web <service> [options]     gunicorn on 0.0.0.0:8000   (loanbridge web <service> --bind 0.0.0.0:8000)
#   worker <service> [options]  probes and metrics on 0.0.0.0:9000 (loanbridge worker <service> --host 0.0.0.0)
#   migrate [options]           databases, bucket and broker topology (loanbridge migrate), then exits
#   anything else               passed to `loanbridge` as it is (create-admin, replay-dlq, resync, rotate-keys, ...)
# Options given after the service override the defaults here (click keeps an option's last value).
set -eu

usage() {
    echo "usage: web <service> | worker <service> | migrate | <loanbridge command>" >&2
    exit 64
}

process=${1:-}
case "$process" in
    web | worker)
        [ $# -ge 2 ] || usage
        service=$2
        shift 2
        if [ "$process" = web ]; then
            exec loanbridge web "$service" --bind 0.0.0.0:8000 --workers "${LOANBRIDGE_WEB_WORKERS:-2}" "$@"
        fi
        exec loanbridge worker "$service" --host 0.0.0.0 --port 9000 "$@"
        ;;
    migrate)
        shift
        exec loanbridge migrate "$@"
        ;;
    "" | -h | --help | help)
        usage
        ;;
    *)
        exec loanbridge "$@"
        ;;
esac
