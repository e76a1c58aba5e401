# The app image: Streamlit serving a model bundle with numpy. No Java and no Spark: the app never
# imports pyspark, so pyspark is left out of the install (as on Streamlit Community Cloud).
#   docker build -f Dockerfile.app -t music-recommender-app .
#   docker run -p 8501:8501 music-recommender-app              # serves the committed demo bundle
#   docker run -p 8501:8501 -e MODEL_BUNDLE_URL=https://.../v.tar.gz -e MODEL_BUNDLE_SHA256=... music-recommender-app
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/app/data \
    MODELS_DIR=/app/models \
    DEMO_BUNDLE_DIR=/app/demo-bundle

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /app/data /app/models \
    && chown app:app /app/data /app/models

COPY .streamlit/config.toml .streamlit/config.toml
COPY app.py ./
COPY pages/ pages/
COPY webapp/ webapp/
COPY engine/ engine/
COPY spotify/ spotify/
# The demo bundle lives outside /app/models, so a models volume does not hide it.
COPY models/demo/ /app/demo-bundle/

USER app
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
