"""What can be checked here of running fleet on Kubernetes (README, "Run it on Kubernetes").

There is no Docker daemon and no cluster on a test machine: the Dockerfile is checked by reading
it (two stages, the wheel built in the first and installed offline in the second, a non-root
user, ``fleet`` as the entry point), the manifests against the Kubernetes JSON schemas that
``kubernetes-validate`` ships (offline) and against each other, and the Indexed Job's contract
is simulated with real processes: N ``fleet run --shard auto --report -`` with
``JOB_COMPLETION_INDEX``/``JOB_COMPLETIONS`` set, against one ``fleet csms``, their output
concatenated as ``kubectl logs`` gives it and merged into one gated verdict.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from fleet.commands.checks import SHARD_COUNT_ENV, SHARD_INDEX_ENV
from fleet.exit_codes import OK, THRESHOLDS_FAILED

REPO = Path(__file__).resolve().parents[1]
JOB_FILE = REPO / "deploy" / "kubernetes-indexed-job.yaml"
PODMONITOR_FILE = REPO / "deploy" / "kubernetes-podmonitor.yaml"

#: The Kubernetes versions the manifests are checked against: the first whose Job pods carry the
#: ``batch.kubernetes.io/controller-uid`` label the run id comes from, and the newest schemas shipped.
KUBERNETES_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())

#: The README's figure the pods' memory is sized from: peak RSS of all processes per station
#: (1,777 MiB for 20,000 full station actors with their built-in CSMS).
KIB_PER_STATION = 1777 * 1024 / 20000


# ------------------------------------------------------------------ the Dockerfile


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions ``(INSTRUCTION, arguments)`` by stage: continuation lines
    joined, comments and parser directives left out; a stage starts at each FROM."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        word, _, rest = line.partition(" ")
        instruction = (word.upper(), rest.strip())
        if instruction[0] == "FROM":
            stages.append([])
        assert stages, f"an instruction before the first FROM: {line!r}"
        stages[-1].append(instruction)
    return stages


def args_of(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    return [rest for word, rest in stage if word == instruction]


def test_the_dockerfile_builds_the_wheel_then_installs_it_offline_for_a_non_root_fleet() -> None:
    stages = dockerfile_stages((REPO / "Dockerfile").read_text())
    assert len(stages) >= 2, "a multi-stage build"
    build, runtime = stages[0], stages[-1]
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim( AS \w+)?", args_of(stage, "FROM")[0], re.IGNORECASE)
    build_name = args_of(build, "FROM")[0].split()[-1]
    # the first stage builds fleet's wheel (and its dependencies') from the sources it copies
    build_runs = " ".join(args_of(build, "RUN"))
    assert "pip wheel" in build_runs and "--wheel-dir" in build_runs, build_runs
    copied = " ".join(args_of(build, "COPY"))
    assert "pyproject.toml" in copied and "fleet" in copied.split(), copied
    # the last stage installs them from the first one, offline, while the image is built
    installs = [run for run in args_of(runtime, "RUN") if "pip install" in run]
    assert installs, "fleet is installed at build time"
    for run in installs:
        assert "--no-index" in run and f"from={build_name}" in run and "fleet" in run, run
    # and runs as a user that is not root; nothing installs anything when the container starts
    users = args_of(runtime, "USER")
    assert users, "the image sets a user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    [entrypoint] = args_of(runtime, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["fleet"], entrypoint
    for start in (entrypoint, *args_of(runtime, "CMD")):
        assert "pip" not in start and "install" not in start, start
    def last(instruction: str) -> int:
        return max(i for i, (word, _) in enumerate(runtime) if word == instruction)

    assert last("RUN") < last("USER") < last("ENTRYPOINT")


def dockerignore_keeps(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` (of the repository) is in the build context: the last pattern that
    matches it or one of its directories decides (``!`` keeps)."""
    kept = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        keep = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(prefix, body) for prefix in prefixes):
            kept = keep
    return kept


def test_the_build_context_holds_what_the_dockerfile_copies_and_not_the_rest() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    sources = []
    for stage in dockerfile_stages((REPO / "Dockerfile").read_text()):
        for copy_args in args_of(stage, "COPY"):
            words = [w for w in shlex.split(copy_args) if not w.startswith("--")]
            if "--from=" not in copy_args:
                sources += words[:-1]
    assert sources
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["readme"]
    assert readme in sources, "the wheel's build needs the README pyproject.toml names"
    for source in sources:
        assert (REPO / source).exists(), source
        assert dockerignore_keeps(source, patterns), source
    assert dockerignore_keeps("fleet/run/supervisor.py", patterns)
    for left_out in (".venv/bin/python", ".git/HEAD", "tests/test_deploy.py", "fleet/__pycache__/cli.cpython-311.pyc"):
        assert not dockerignore_keeps(left_out, patterns), left_out


# ------------------------------------------------------------------ the manifests


def manifests(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(path: Path) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in manifests(path)}


def test_the_manifests_validate_against_the_kubernetes_schemas() -> None:
    """Strictly: a misspelt or misplaced field is an error, not ignored."""
    resources = manifests(JOB_FILE)
    assert {r["kind"] for r in resources} == {"ConfigMap", "Service", "Job"}
    for version in KUBERNETES_VERSIONS:
        for resource in resources:
            kubernetes_validate.validate(resource, version, strict=True)
    # the PodMonitor is the Prometheus Operator's own resource: not in the Kubernetes schemas
    [monitor] = manifests(PODMONITOR_FILE)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(monitor, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize(("where", "key", "value", "words"), [
    (("spec", "template", "spec"), "restartpolicy", "Never", ["'restartpolicy' was unexpected"]),
    (("spec",), "parallelism", "four", ["'four' is not of type 'integer'"]),
])
def test_the_schema_check_refuses_a_broken_job(where: tuple[str, ...], key: str, value: Any, words: list[str]) -> None:
    job = copy.deepcopy(by_kind(JOB_FILE)["Job"])
    node = job
    for step in where:
        node = node[step]
    node[key] = value
    with pytest.raises(kubernetes_validate.ValidationError) as refused:
        kubernetes_validate.validate(job, KUBERNETES_VERSIONS[-1], strict=True)
    for word in words:
        assert word in refused.value.message, refused.value.message


def option(args: list[str], name: str) -> str:
    assert args.count(name) == 1, (name, args)
    return args[args.index(name) + 1]


def test_the_job_runs_one_shard_per_index_with_the_image_and_the_scrapers_agreeing() -> None:
    resources = by_kind(JOB_FILE)
    job, service, config = resources["Job"], resources["Service"], resources["ConfigMap"]
    spec = job["spec"]
    pod = spec["template"]
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    args = container["args"]
    # one shard per index, N the same everywhere
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(env[SHARD_COUNT_ENV]["value"])
    assert SHARD_INDEX_ENV not in env  # Kubernetes sets it in each pod
    assert args[0] == "run" and option(args, "--shard") == "auto"
    assert option(args, "--report") == "-"  # to the pod's log, which outlives the pod
    assert "--threshold" not in args  # gated on the merged report: a failing shard would stop the others
    # the CSMS from the ConfigMap, the run id the same for every pod of one Job
    assert option(args, "--csms") == "$(CSMS_URL)"
    assert env["CSMS_URL"]["valueFrom"]["configMapKeyRef"]["name"] == config["metadata"]["name"]
    assert env["CSMS_URL"]["valueFrom"]["configMapKeyRef"]["key"] in config["data"]
    assert option(args, "--run-id") == "$(RUN_ID)" and "controller-uid" in str(env["RUN_ID"]["valueFrom"])
    # the image: this version of fleet, its user
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert container["image"].rsplit(":", 1)[1] == version
    image_user = args_of(dockerfile_stages((REPO / "Dockerfile").read_text())[-1], "USER")[-1].split(":")[0]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert str(pod["spec"]["securityContext"]["runAsUser"]) == image_user
    # --prometheus, the container port, the annotations, the headless Service and the PodMonitor agree
    host, _, port = option(args, "--prometheus").rpartition(":")
    assert host == "0.0.0.0"
    [metrics_port] = [p for p in container["ports"] if p["containerPort"] == int(port)]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == port
    labels = pod["metadata"]["labels"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == metrics_port["name"]
    [monitor] = manifests(PODMONITOR_FILE)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == metrics_port["name"]
    # sized from the README's per-station figure (the manifest's comment has the arithmetic)
    per_pod = int(option(args, "--stations")) / spec["completions"]
    memory = container["resources"]["requests"]["memory"]
    assert memory.endswith("Mi") and int(memory[:-2]) * 1024 >= per_pod * KIB_PER_STATION, (per_pod, memory)


def test_the_readme_collects_the_reports_of_this_job() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Run it on Kubernetes"):]
    section = section[: section.index("\n### ", 1)]
    name = by_kind(JOB_FILE)["Job"]["metadata"]["name"]
    assert f"kubectl logs -l job-name={name} --tail=-1" in section  # every line of every pod
    assert "| fleet report merge - " in section and "--threshold" in section
    assert f"kubectl apply -f {JOB_FILE.relative_to(REPO)}" in section


# ------------------------------------------------------------------ the Indexed Job, simulated

#: N pods of the simulated Job, and what each runs (a few stations, about a second after the ramp).
PODS = 3
STATIONS = 6
RUN = ["run", "--shard", "auto", "--stations", str(STATIONS), "--duration", "1", "--ramp", "100",
       "--workers", "1", "--no-control", "--run-id", "JOB-UID", "--report", "-"]


@contextlib.contextmanager
def builtin_csms() -> Iterator[str]:
    """``fleet csms`` on 127.0.0.1, a free port; yields the URL it prints."""
    process = subprocess.Popen([sys.executable, "-m", "fleet", "csms", "--port", "0", "--no-control"],
                               cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # (pytest's timeout bounds it)
        assert line.startswith("listening on ws://127.0.0.1:"), line
        yield line.split()[-1]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def pod(index: int, csms: str) -> bytes:
    """One pod of the Job: ``fleet run`` with the variables Kubernetes (the index) and the
    manifest (the count) set, its standard output and error in one log as a container's are."""
    environ = {k: v for k, v in os.environ.items() if k not in (SHARD_INDEX_ENV, SHARD_COUNT_ENV)}
    environ |= {SHARD_INDEX_ENV: str(index), SHARD_COUNT_ENV: str(PODS)}
    process = subprocess.Popen([sys.executable, "-m", "fleet", *RUN, "--csms", csms], cwd=str(REPO), env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        log, _ = process.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == OK, log.decode(errors="replace")[-2000:]
    return log


def merge(logs: bytes, *thresholds: str) -> subprocess.CompletedProcess[bytes]:
    argv = ["report", "merge", "-", "-o", "-"] + [f"--threshold={t}" for t in thresholds]
    return subprocess.run([sys.executable, "-m", "fleet", *argv], cwd=str(REPO), input=logs,
                          capture_output=True, timeout=30)


def test_an_indexed_job_simulated_here_gives_one_merged_threshold_gated_verdict() -> None:
    with builtin_csms() as url, ThreadPoolExecutor(max_workers=PODS) as pool:
        logs = list(pool.map(lambda i: pod(i, url), range(PODS)))
    # each pod ran its own shard, and its log holds the summary beside the report
    for index, log in enumerate(logs):
        assert b"OCPP, whole run" in log
        shard_report = json.loads(log[log.index(b"\n{\n") + 1 : log.rindex(b"\n}\n") + 2])
        assert shard_report["fleet"]["shard"] == [index, PODS] and shard_report["fleet"]["run_id"] == "JOB-UID"
    # `kubectl logs -l job-name=... --tail=-1`: the pods' logs one after the other, into one merge
    everything = b"".join(logs)
    passed = merge(everything, f"BootNotification.count>={STATIONS}", "errors==0")
    assert passed.returncode == OK, passed.stderr.decode()
    merged = json.loads(passed.stdout)
    assert merged["fleet"]["merged_from"] == PODS and merged["fleet"]["stations"] == STATIONS
    assert sorted(merged["fleet"]["shards"]) == [[i, PODS] for i in range(PODS)]
    assert [t["ok"] for t in merged["thresholds"]] == [True, True]
    # the gate: a threshold the merged totals miss fails the verdict
    failed = merge(everything, f"BootNotification.count>={STATIONS + 1}")
    assert failed.returncode == THRESHOLDS_FAILED, failed.stderr.decode()
    assert f"BootNotification.count>={STATIONS + 1}" in failed.stderr.decode()
