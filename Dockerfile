# llm-cost-exporter image: non-root, no shell tools needed at run time, read-only root friendly.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install . && useradd --system --uid 10001 --no-create-home exporter

USER 10001
EXPOSE 9771
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9771/-/healthy', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["llm-cost-exporter"]
CMD ["--web.listen-address=0.0.0.0:9771"]
