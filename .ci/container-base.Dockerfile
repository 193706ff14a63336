# A stand-in for the official python:3.11-slim, for .ci/container-proof on
# machines that cannot reach Docker Hub. The script debootstraps a minimal
# Debian with python3, python3-venv, python3-pip and ca-certificates (and the
# host's CA bundle), imports it as ROOTFS_IMAGE, builds this on top and tags
# the result with the name the project's Dockerfile starts FROM.
#
# A virtualenv first on PATH makes `python` exist and `pip install` work
# without --break-system-packages, as in the official image.
ARG ROOTFS_IMAGE
FROM ${ROOTFS_IMAGE}

RUN python3 -m venv /usr/local/python-venv

ENV PATH=/usr/local/python-venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt

CMD ["python"]
