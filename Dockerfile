# syntax=docker/dockerfile:1
#
# One image for every trainq service; docker-compose.yml picks the subcommand:
#   docker run --rm trainq db upgrade | api | scheduler | consumer | flower | worker --pool gpu --gpus all
#
# torch: by default `pip install torch==$TORCH_VERSION` resolves on PyPI (on linux/x86_64 that is a
# CUDA build that bundles its CUDA libraries, so the base image needs no CUDA toolkit; the host needs
# the NVIDIA driver and the NVIDIA container toolkit). Pick another build with the wheel index:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t trainq .
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu   -t trainq .
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Unprivileged user; its uid is fixed so bind-mounted folders can be chowned to it on the host.
RUN groupadd --system --gid 10001 trainq \
 && useradd --system --uid 10001 --gid trainq --create-home --home-dir /home/trainq trainq

# torch first: it is the largest layer and changes least often.
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install --index-url "$TORCH_INDEX_URL" "torch==${TORCH_VERSION}"; \
    else \
        pip install "torch==${TORCH_VERSION}"; \
    fi

# The project itself (non-editable, so the installed package, with its Alembic migrations as
# package data, is what runs; the source tree is not kept in the image).
COPY setup.cfg pyproject.toml README.md /tmp/trainq-src/
COPY app /tmp/trainq-src/app
COPY config /tmp/trainq-src/config
COPY workers /tmp/trainq-src/workers
RUN pip install "/tmp/trainq-src[examples]" \
 && rm -rf /tmp/trainq-src

WORKDIR /srv/trainq
COPY --chown=trainq:trainq scripts/examples ./scripts/examples

# TRAINQ_VAR_DIR holds job work dirs (checkpoints, outputs) and datasets; compose mounts a volume
# here, and a new named volume takes this folder's owner, so the unprivileged user can write to it.
RUN mkdir -p /var/lib/trainq && chown trainq:trainq /var/lib/trainq
ENV TRAINQ_SCRIPT_ROOT=/srv/trainq/scripts/examples \
    TRAINQ_VAR_DIR=/var/lib/trainq

USER trainq

EXPOSE 8000 5555
ENTRYPOINT ["trainq"]
CMD ["--help"]
