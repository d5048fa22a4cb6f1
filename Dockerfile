# Border Liaison Gateway image. No container engine runs on the development machines, so this
# file is kept plain and is not built by CI; it uses the same install steps as the README.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
RUN python -m venv /opt/blg \
 && /opt/blg/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/blg/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/blg --shell /usr/sbin/nologin blg
COPY --from=build /opt/blg /opt/blg
ENV PATH=/opt/blg/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER blg
WORKDIR /var/lib/blg
# The node config (and the key files it names) are mounted at /etc/blg; the API port in that
# config must match BLG_API_PORT for the health check.
ENV BLG_API_PORT=9201
EXPOSE 9101 9201
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"BLG_API_PORT\"]}/healthz', timeout=4)" || exit 1
ENTRYPOINT ["gateway"]
CMD ["run", "--config", "/etc/blg/node.yaml"]
