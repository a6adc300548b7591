# syntax=docker/dockerfile:1
# The newsletter service: one image for the web tier (`newsletter serve`), the scheduler
# (`python scheduler.py`) and one-off commands (`newsletter migrate`, `newsletter report ...`).
# Build: docker build -t newsletter:0.3.0 .   (docs/deploy.md)

# --- build: a virtualenv with the service and its dependencies -------------------------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first (a layer that survives code changes), then the code.
COPY pyproject.toml README.md ./
RUN mkdir newsletter && touch newsletter/__init__.py && pip install . && pip uninstall -y newsletter
COPY newsletter ./newsletter
COPY migrations ./migrations
COPY campaigns ./campaigns
COPY templates ./templates
COPY subscribers ./subscribers
COPY scheduler.py ./
# Editable: the code (and migrations/, found beside the package) stays at /app.
RUN pip install --no-deps -e . && python -m compileall -q newsletter

# --- runtime: no compilers, no pip cache, not root -------------------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSLETTER_DATA_DIR=/var/lib/newsletter \
    NEWSLETTER_LOG_FORMAT=json
RUN groupadd --system --gid 10001 newsletter \
    && useradd --system --uid 10001 --gid newsletter --home-dir /app --shell /usr/sbin/nologin newsletter \
    && mkdir -p /var/lib/newsletter && chown newsletter:newsletter /var/lib/newsletter
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
USER newsletter
EXPOSE 8000
VOLUME ["/var/lib/newsletter"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["newsletter", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
