# One image for every Flannel service; the compose file picks the subcommand.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY origin ./origin
COPY flannel ./flannel
COPY flannel_cli ./flannel_cli
COPY router ./router
COPY client_sdk ./client_sdk
COPY loadtest ./loadtest
RUN pip install --no-cache-dir '.[loadtest]'
EXPOSE 8000 8100 8300 8089
ENTRYPOINT ["flannel"]
CMD ["--help"]
