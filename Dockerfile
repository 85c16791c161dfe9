# launch-harness in a container. `docker compose up` (docker-compose.yml) runs the demo API, a master
# and N workers; on a host of its own, `docker run --rm IMAGE worker --master HOST:5557` joins a master.
# The harness is installed from its wheel: the shipped scenarios (`run smoke`), the Locust entry points
# and every other data file are in the package, so the image holds no checkout.
FROM python:3.11-slim AS wheel

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# What the wheel is built from (tests/commands/test_wheel.py builds it from these alone).
COPY pyproject.toml README.md ./
COPY harness ./harness
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=wheel /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
# Run folders go to ./reports/ of the working directory (docker-compose.yml mounts /reports instead).
WORKDIR /work

# 5557: the master's port for workers; 8000: the demo API in docker-compose.yml.
EXPOSE 5557 8000
ENTRYPOINT ["harness"]
CMD ["--help"]
