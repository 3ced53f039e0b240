# syntax=docker/dockerfile:1
# Tierline's container image: one image for the web app, the job worker and migrations
# (infra/deploy.md). Built with BuildKit: `docker build -t tierline .`

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# --- htmx, exactly as pinned (and integrity-checked) by package-lock.json --------------------
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts are not needed to fetch a static file, and skipping them keeps install-time code out.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- the Tierline wheel (htmx inside) and a wheel of every dependency ------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tierline/ tierline/
COPY --from=assets /src/node_modules/htmx.org/dist/htmx.min.js tierline/platform/static/vendor/htmx.min.js
# With the tracing extra, so TIERLINE_TRACING=otlp works in the image (off by default).
RUN pip wheel --wheel-dir /wheels ".[tracing]"

# --- runtime: no compilers, no build tools, a non-root user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/tierline \
    PATH=/opt/tierline/bin:$PATH \
    TIERLINE_DATA_DIR=/data \
    TIERLINE_LOG_FORMAT=json

# The wheels come in through a bind mount, so none of them stays in a layer. The Alembic
# scripts are not in the wheel: the runner looks for them beside the installed package
# (tierline/platform/alembic_runner.py, MIGRATIONS_DIR), so they are copied there. The last
# command fails the build if they are not found. (DL3013 asks for pinned versions: the wheel
# named is the one just built, and --no-index allows nothing but the wheels built with it.)
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,source=migrations,target=/mnt/migrations \
    python -m venv /opt/tierline \
    && set -- /wheels/tierline-*.whl \
    && pip install --no-index --find-links /wheels "$1[tracing]" \
    && cp -r /mnt/migrations "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/migrations" \
    && python -c "from tierline.platform.alembic_runner import head_revision as h; print('tenant head', h('tenant'), 'control head', h('control'))"

# Uploads wait here for the worker (web and worker share it), and the embedded default keeps
# its servers and key here when no database is configured.
RUN groupadd --system --gid 10001 tierline \
    && useradd --system --uid 10001 --gid tierline --home-dir /data --no-create-home tierline \
    && mkdir -p /data \
    && chown tierline:tierline /data \
    && chmod 0700 /data
VOLUME ["/data"]
WORKDIR /data
# Numeric, so that a runtime (Kubernetes' runAsNonRoot) can tell it is not root.
USER 10001:10001

EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# `docker run IMAGE` serves; `docker run IMAGE worker`, `… migrate`, `… tenants list` run
# those tierline commands instead.
ENTRYPOINT ["tierline"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
