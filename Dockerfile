# syntax=docker/dockerfile:1
# fleet as a container image, for the shards of a load run on Kubernetes (deploy/) or anywhere else:
#
#   docker build -t fleet:0.1.0 .                    (at the top of the repository; BuildKit, the default since Docker 23)
#   docker run --rm fleet:0.1.0 run profiles/mixed-fleet.toml --stations 200 --csms wss://csms.example.test/ocpp
#
# Two stages: the first builds fleet's wheel and the wheels of its dependencies; the second installs them
# offline (no index, no compiler) into a plain python:3.11-slim, so a container starts fleet at once and
# never installs anything when it runs. It runs as an unprivileged user (uid 10001). The shipped
# profiles are in /opt/fleet/profiles, the working directory, so `fleet run profiles/NAME.toml` works as in
# the README, and are linked where fleet looks for them by name (fleet files naming a profile, and
# `fleet run` without a fleet: the demo).

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fleet ./fleet
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/fleet-*.whl \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin fleet
COPY profiles /opt/fleet/profiles
RUN ln -s /opt/fleet/profiles "$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/profiles"
WORKDIR /opt/fleet
USER 10001:10001
# the --prometheus port the manifests in deploy/ use
EXPOSE 9464
ENTRYPOINT ["fleet"]
CMD ["--help"]
