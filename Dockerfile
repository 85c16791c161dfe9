# launch-harness in a container. `docker compose up` (docker-compose.yml) runs the demo API, a master
# and N workers; on a host of its own, `docker run --rm IMAGE worker --master HOST:5557` joins a master.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY locustfiles ./locustfiles
COPY scenarios ./scenarios
# Editable, as from a checkout: the harness finds locustfiles/ and scenarios/ beside its package.
RUN pip install -e .

# 5557: the master's port for workers; 8000: the demo API in docker-compose.yml.
EXPOSE 5557 8000
ENTRYPOINT ["harness"]
CMD ["--help"]
