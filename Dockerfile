# One image for every PixWave role: the command picks the role (`api`, `relay`,
# `worker charge`, `db upgrade`, ...). docs/deployment.md shows how compose runs them.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY outbox ./outbox
COPY workers ./workers
COPY gatewaysim ./gatewaysim
COPY devtools ./devtools
COPY migrations ./migrations
# Editable, so `pixwave db upgrade` finds alembic.ini and migrations/ beside the code
# (app/db/migrate.py looks for them there). The final stage keeps /app at this path.
RUN /opt/venv/bin/pip install --editable .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIXWAVE_API_HOST=0.0.0.0
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pixwave
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
USER pixwave
# The API. Relay and worker metrics listen on 9101 and 9102, the gateway simulator on 8100.
EXPOSE 8000
ENTRYPOINT ["pixwave"]
CMD ["api"]
