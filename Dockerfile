# The dispatch service with the embedded Daxing rule set.
#   docker build -t dispatch . && docker run -p 8000:8000 dispatch
# Settings are DISPATCH_* variables (see dispatch/api/settings.py), e.g. -e DISPATCH_WORKERS=2.

# -- build: install the package and its wheels into a virtualenv --------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dispatch ./dispatch
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-compile .

# -- run: the virtualenv, the rule set, a warm numba cache, a user without rights ------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/app/numba-cache \
    NUMBA_CPU_NAME=generic \
    DISPATCH_RULES=/app/rules/daxing \
    DISPATCH_HOST=0.0.0.0 \
    DISPATCH_PORT=8000
# NUMBA_CPU_NAME=generic: the cache compiled here must load on whatever x86-64 runs the
# image; a cache for the build host's CPU would be recompiled at every start elsewhere
RUN useradd --system --uid 10001 --no-create-home --home-dir /app dispatch
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY rules/daxing /app/rules/daxing
# fail the build on an invalid rule set, then compile every kernel into the cache, so that
# a container is ready in about a second instead of recompiling on start
RUN dispatch check /app/rules/daxing \
    && dispatch serve --warm-only \
    && chown -R dispatch /app/numba-cache
USER dispatch
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('DISPATCH_PORT', '8000')}/healthz\", timeout=2)"]
CMD ["dispatch", "serve"]
