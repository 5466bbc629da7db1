# syntax=docker/dockerfile:1
#
# hae-server image. One image, three roles, chosen by the command:
#   (default)                  the API: one uvicorn worker per container, scale with replicas
#   alembic upgrade head       the migrations (a one-shot job before the API starts)
#   python -m app.worker       the background ingestion worker
#
# Runs as an unprivileged user and writes nothing outside /tmp, so it works with a read-only root
# filesystem (docker run --read-only --tmpfs /tmp, Kubernetes readOnlyRootFilesystem + emptyDir).
#
#   docker build -t hae-server .

ARG PYTHON_IMAGE=python:3.13-slim-bookworm

# ---------------------------------------------------------------------------------------------
# build: the locked dependencies, into a virtualenv that is copied whole into the final image
FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /src
# Only the lock and the project metadata: this layer (the slow one) is rebuilt when they change,
# not when the code does. `[tool.uv] package = false`: there is no project to build or install.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-cache --python /usr/local/bin/python3

# ---------------------------------------------------------------------------------------------
# runtime: the interpreter, the virtualenv and the code; no compiler, no uv, no pip cache
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="hae-server" \
      org.opencontainers.image.description="Self-hosted receiver for Health Auto Export (PostgreSQL + PostGIS)" \
      org.opencontainers.image.licenses="MIT"

# HAE_ENV=production: JSON logs, and HAE_KEY_PEPPER is required (the app refuses to start
# without it). HOME=/tmp: nothing may write into the read-only root.
ENV PATH=/opt/venv/bin:${PATH} \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    HAE_ENV=production

RUN groupadd --system --gid 10001 hae \
    && useradd --system --uid 10001 --gid hae --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin hae

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY alembic.ini ./
COPY migrations/ migrations/
COPY app/ app/
# Byte-code compiled at build time: at run time the tree is read-only and nothing is written.
RUN python -m compileall -q app migrations

USER 10001:10001
EXPOSE 8000

# uvicorn drains in-flight requests (a large ingest included) for up to 60 s after SIGTERM;
# give the container longer than that before SIGKILL (compose: stop_grace_period, Kubernetes:
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM

# Python, not curl: the slim image has no curl. Only the API answers /livez: the migration and
# worker containers disable this check (see docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4).status == 200 else 1)"]

CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header", "--proxy-headers", "--timeout-graceful-shutdown", "60"]
