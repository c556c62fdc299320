FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    EDITBOT_DATA_DIR=/data EDITBOT_HTTP_PORT=3000

RUN useradd --create-home --uid 10001 editbot && mkdir /data && chown editbot /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
RUN pip install .

USER editbot
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('EDITBOT_HTTP_PORT', '3000'), timeout=4)"
CMD ["editbot", "run"]
