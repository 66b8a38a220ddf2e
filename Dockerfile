# Build: docker build -t ssa .   Run: see docs/operations.md (migrate first: `ssa db upgrade`).
FROM python:3.12-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY ssa ./ssa
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 ssa && mkdir /data && chown ssa /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SSA_DATABASE_URL=sqlite:////data/ssa.db
USER ssa
EXPOSE 8000
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"]
CMD ["ssa", "serve", "--host", "0.0.0.0", "--port", "8000"]
