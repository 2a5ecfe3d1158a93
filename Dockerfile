# syntax=docker/dockerfile:1
# LoanBridge: one image for every service and process; its command chooses the process (deploy/image/entrypoint.sh):
#   web <service>      the service's API (gunicorn) on :8000, with /healthz, /readyz, /metrics
#   worker <service>   the service's worker (outbox relay, consumer, timers); /healthz, /readyz, /metrics on :9000
#   migrate            every database, the document bucket and the broker topology, then exits
# Build: docker build -t loanbridge:<release> .    (docs/deploy.md)
# No HEALTHCHECK here: the same image runs three kinds of process on different ports, so docker-compose.yml and
# the Kubernetes manifests probe each process where it listens.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: every wheel, from the one lock file ----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Compilers only here, for a dependency without a prebuilt wheel on the build platform; none reach the final stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libffi-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY constraints.txt ./
COPY libs/common/ libs/common/
COPY services/ services/
RUN python -m pip wheel --wheel-dir /wheels -c constraints.txt \
        ./libs/common \
        ./services/identity ./services/intake ./services/workflow \
        ./services/risk ./services/notify ./services/reporting

# --- runtime: Python, the installed wheels, a non-root user ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="LoanBridge" \
      org.opencontainers.image.description="LoanBridge services: web <service> | worker <service> | migrate"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOANBRIDGE_VAR_DIR=/var/lib/loanbridge
RUN groupadd --system --gid 10001 loanbridge \
    && useradd --system --uid 10001 --gid loanbridge --home-dir /var/lib/loanbridge --no-create-home \
        --shell /usr/sbin/nologin loanbridge \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/loanbridge
# The wheels are mounted from the builder, never copied, so they leave no layer behind. Versions are those the
# builder resolved against constraints.txt; --no-index keeps anything else out.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links /wheels \
        loanbridge-common loanbridge-identity loanbridge-intake loanbridge-workflow \
        loanbridge-risk loanbridge-notify loanbridge-reporting \
    && loanbridge --help >/dev/null
COPY --chmod=0755 deploy/image/entrypoint.sh /usr/local/bin/loanbridge-entrypoint
USER 10001:10001
WORKDIR /var/lib/loanbridge
# web: 8000; worker probes and metrics: 9000
EXPOSE 8000 9000
STOPSIGNAL SIGTERM
ENTRYPOINT ["loanbridge-entrypoint"]
CMD ["help"]
