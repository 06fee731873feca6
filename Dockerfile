# Ledgerline production image: gunicorn serving config.wsgi, static files via whitenoise.
# The same image runs the Celery worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    LEDGERLINE_ENV=production

# Runtime libraries for WeasyPrint (invoice PDFs). psycopg[binary] needs nothing extra.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ledgerline \
    && useradd --system --uid 10001 --gid ledgerline --home-dir /app --shell /usr/sbin/nologin ledgerline

WORKDIR /app

# Dependencies first (cached while only application code changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# PYTHONPATH=/app keeps the source tree (templates/, static/ beside the code) first on sys.path.
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && chown -R ledgerline:ledgerline /app

USER ledgerline

# Build-time only: a throwaway key and database so settings load; never used at runtime.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    DEBUG=0 \
    python manage.py collectstatic --noinput \
    && rm -f /tmp/build.sqlite3

EXPOSE 8000

# /healthz is 200 when the database answers. Host comes from ALLOWED_HOSTS so the host check passes;
# X-Forwarded-Proto marks the probe as HTTPS for deployments that trust a TLS-terminating proxy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD python -c "import os, sys, urllib.request as u; h = [x.strip().lstrip('.') for x in os.environ.get('ALLOWED_HOSTS', '').split(',') if x.strip() and '*' not in x]; r = u.Request('http://127.0.0.1:8000/healthz', headers={'Host': (h or ['127.0.0.1'])[0], 'X-Forwarded-Proto': 'https'}); sys.exit(0 if u.urlopen(r, timeout=8).status == 200 else 1)"

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
