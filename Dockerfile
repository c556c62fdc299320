# editbot: one image for both processes (`editbot run`, `editbot worker`); docs/scaling.md.
# The Python CI tests on (.ci/run runs on 3.11).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EDITBOT_DATA_DIR=/data EDITBOT_HTTP_PORT=3000

RUN useradd --create-home --uid 10001 editbot && mkdir /data && chown editbot /data
WORKDIR /app

# Dependencies in a layer of their own, from pyproject.toml alone: a change to the code
# reuses it, only a change to the dependencies rebuilds it.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code, installed without touching the dependencies again.
COPY README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
RUN pip install --no-deps . && rm -rf build *.egg-info

USER editbot
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('EDITBOT_HTTP_PORT', '3000'), timeout=4)"
# SIGTERM stops claiming and gives running jobs their grace period (30 s) before their leases
# go back to the queue. Give the container longer than that to stop: `docker run
# --stop-timeout 60`, compose's `stop_grace_period: 60s` (compose.yaml), Kubernetes'
# terminationGracePeriodSeconds: 60. Docker's default of 10 s would SIGKILL jobs mid-run.
STOPSIGNAL SIGTERM
CMD ["editbot", "run"]
