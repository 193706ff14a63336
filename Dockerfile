# The service's image. Elastic Beanstalk's Docker platform builds it on the
# instance and points nginx at the one port EXPOSEd below.
#
# builder: fetches the pinned dependency wheels, trains the default model (trained
#          files are never committed, so the image makes its own) or takes yours,
#          adds pandas when that model takes a DataFrame, and builds the project's wheel.
# runtime: the slim base, a virtualenv filled from those wheels only (--no-index,
#          binary wheels, no compiler anywhere), a non-root user.
#
# Layers go from the slowest-changing to the fastest: a code change rebuilds the
# project wheel and nothing else; only constraints.txt or setup.cfg refetch the
# dependencies. No BuildKit-only syntax: the classic builder builds it too.

FROM python:3.11-slim AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build

# The dependencies, from the pins alone, before any source: install_requires
# and the dataframe extra (pandas) are read from setup.cfg and pinned by
# constraints.txt. Both are fetched here, so that which model the image serves
# never refetches anything; the venv gets install_requires only. --only-binary
# keeps a missing wheel a loud failure rather than a compile.
COPY constraints.txt setup.cfg ./
RUN python -c "import configparser; c = configparser.ConfigParser(interpolation=None); c.read('setup.cfg'); \
        open('requirements.txt', 'w').write(c['options']['install_requires']); \
        open('dataframe-requirements.txt', 'w').write(c['options.extras_require']['dataframe'])" \
 && pip wheel --only-binary=:all: --wheel-dir /wheels/deps -c constraints.txt -r requirements.txt -r dataframe-requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels/deps -c constraints.txt -r requirements.txt

# The model the image serves, always from /app/model:
#   docker build .                                  the default iris model, trained here;
#   docker build --build-arg MODEL=models/NAME .    a model directory you trained with
#                                                   `python -m training --csv ...` (under models/).
# Training needs contract/ (the template of the contract it writes) and
# training/ only, so code changes in wsgi_service/ keep these layers cached.
COPY contract/ contract/
COPY training/ training/
ARG MODEL=
COPY models/ models/
RUN if [ -z "$MODEL" ]; then \
        /opt/venv/bin/python -m training --out /app/model; \
    elif [ -f "$MODEL/manifest.json" ] && [ -f "$MODEL/openapi.json" ]; then \
        mkdir -p /app && cp -r "$MODEL" /app/model; \
    else \
        echo "MODEL=$MODEL: no model directory (manifest.json, openapi.json, model file) there;" \
             "train one into models/ with python -m training --csv ... --out models/NAME" >&2; \
        exit 1; \
    fi

# pandas only for a model that takes a DataFrame, as its manifest says ("input":
# "dataframe", written by `python -m training import`): scikit-learn imports pandas
# whenever it is installed, which would cost every other image memory and start time.
RUN input=$(/opt/venv/bin/python -c "import json; from contract.model_directory import input_of; print(input_of(json.load(open('/app/model/manifest.json'))))") \
 && echo "the model takes: $input" \
 && if [ "$input" = dataframe ]; then \
        /opt/venv/bin/pip install --no-index --find-links /wheels/deps -c constraints.txt -r dataframe-requirements.txt; \
    fi

# The project itself, as a wheel.
COPY pyproject.toml README*.md ./
COPY wsgi_service/ wsgi_service/
RUN pip wheel --no-deps --wheel-dir /wheels/project .


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=8080 \
    MODEL_DIR=/app/model \
    NUMBA_CACHE_DIR=/app/numba-cache

# A fixed, numeric uid (above any a distribution hands out) that owns nothing here.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin app

# The virtualenv holds only what was installed from /wheels/deps, so it is copied
# whole rather than the wheels: a COPY of the wheels would stay in the image as a
# layer (no RUN --mount here) and add their full size.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app/model /app/model
COPY --from=builder /wheels/project /tmp/project-wheel
# The build fails here, not at the first start, when the model cannot be
# served: tampered, pickled by another scikit-learn (other than a forest), or at odds with its contract.
# Loading it also compiles the forest kernel into NUMBA_CACHE_DIR, which the
# server's user owns: numba reads a cache only from a place it may write.
RUN pip install --no-index --no-deps /tmp/project-wheel/*.whl \
 && rm -rf /tmp/project-wheel \
 && python -c "from wsgi_service import create_app_from_env; create_app_from_env()" \
 && chown -R 10001:10001 "$NUMBA_CACHE_DIR"

# Root owns the code and the model; the server only reads them.
WORKDIR /app
USER 10001:10001

EXPOSE 8080

HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=2)"]

# gunicorn with the model preloaded, bound to 0.0.0.0:$PORT (wsgi_service.operations.gunicorn_config).
CMD ["python", "-m", "wsgi_service"]
