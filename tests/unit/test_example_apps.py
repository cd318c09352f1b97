"""The example applications of ``examples/apps`` (``examples/apps/README.md``), without a cluster.

``examples/apps/run`` refuses a wrong command line (exit 2) and reports a failed build (exit 3) in
one sentence each; it builds once per Kafka version and source hash into the cache, two builds
started at once leave one complete build and nothing half-built, and nothing is written under
``examples/apps``. The built applications refuse a wrong environment in one sentence (exit 2), and
their JSON handling is held to exact values through a probe compiled beside them
(``apps/JsonProbe.java``). What the applications do against a broker is for the Docker tier.

The builds (``java`` tier) go into a fresh cache, so each session really builds; Maven's own
repository (``~/.m2``) keeps the jars, so only a machine's first build downloads them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "examples" / "apps"
RUN = APPS / "run"
PROBE = Path(__file__).parent / "apps" / "JsonProbe.java"
APP_NAMES = "streams, worker-pool or latest-reset"
MAIN_CLASSES = ("StreamsApp", "WorkerPoolApp", "LatestResetApp")
#: Long enough for a machine's first build, which downloads Kafka Streams and its dependencies.
BUILD_TIMEOUT_S = 600


def run(*args: str, env: Mapping[str, str | Path], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``examples/apps/run args`` with the test's environment plus ``env``."""
    environment = {**os.environ, **{name: str(value) for name, value in env.items()}}
    return subprocess.run(
        [str(RUN), *args], env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def source_hash() -> str:
    """The hash the run script names a build by: its sources, its pom and itself, as ``sha256sum`` lists them."""
    files = [APPS / "java" / "pom.xml", RUN, *(p for p in (APPS / "java" / "src").rglob("*") if p.is_file())]
    names = sorted(str(path.relative_to(APPS)) for path in files)
    listing = "".join(f"{hashlib.sha256((APPS / name).read_bytes()).hexdigest()}  {name}\n" for name in names)
    return hashlib.sha256(listing.encode()).hexdigest()[:12]


def tree(root: Path) -> list[str]:
    """Every path under ``root``, ignored files included."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@dataclass(frozen=True)
class Built:
    cache: Path
    runs: list[subprocess.CompletedProcess[str]]
    before: list[str]
    after: list[str]


@pytest.fixture(scope="module")
def built(jdk: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Two ``run --build`` started at once into a fresh cache, and examples/apps before and after;
    the build (some 70 MB of jars) is removed after the module."""
    cache = tmp_path_factory.mktemp("apps-cache")
    before = tree(APPS)
    environment = {**os.environ, "KAFKA_CHAOS_CACHE": str(cache)}
    environment.pop("KAFKA_VERSION", None)
    both = [
        subprocess.Popen([str(RUN), "--build"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    runs = []
    for proc in both:
        out, err = proc.communicate(timeout=BUILD_TIMEOUT_S)
        runs.append(subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode()))
    yield Built(cache, runs, before, tree(APPS))
    shutil.rmtree(cache)


def test_two_builds_at_once_leave_one_complete_build_in_the_cache_and_nothing_in_the_repository(built: Built) -> None:
    assert [(r.returncode, r.stdout, r.stderr) for r in built.runs] == [(0, "", "")] * 2
    name = f"apps-4.4.0-{source_hash()}"
    assert [p.name for p in built.cache.iterdir()] == [name]  # no temporary directory, no log
    classes = built.cache / name / "classes" / "kcapps"
    assert [(classes / f"{main}.class").is_file() for main in MAIN_CLASSES] == [True] * 3
    jars = {p.name for p in (built.cache / name / "lib").iterdir()}
    assert {"kafka-streams-4.4.0.jar", "kafka-clients-4.4.0.jar", "slf4j-simple-2.0.17.jar"} <= jars
    assert built.after == built.before
    assert [p for p in built.after if p.endswith((".class", ".jar")) or "target" in Path(p).parts] == []


def test_a_second_build_reuses_the_first(built: Built) -> None:
    build = built.cache / f"apps-4.4.0-{source_hash()}"
    stamp = build.stat().st_mtime_ns
    proc = run("--build", env={"KAFKA_CHAOS_CACHE": built.cache}, timeout=BUILD_TIMEOUT_S)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert (build.stat().st_mtime_ns, [p.name for p in built.cache.iterdir()]) == (stamp, [build.name])


ENV = {"BOOTSTRAP_SERVERS": "127.0.0.1:1", "INPUT_TOPIC": "in", "OUTPUT_TOPIC": "out", "GROUP_ID": "g"}


@pytest.mark.parametrize(
    ("app", "env", "message"),
    [
        ("streams", {"BOOTSTRAP_SERVERS": ""}, "BOOTSTRAP_SERVERS is not set: set it to the brokers' addresses, "),
        ("worker-pool", {"WORKERS": "0"}, "WORKERS is '0': set it to a whole number of 1 or more"),
        ("latest-reset", {"APP_SETTINGS": "acks=all;latest"}, "APP_SETTINGS entry 'latest' is not key=value: "),
        ("streams", {"PROCESSING_GUARANTEE": "exactly_once"}, "PROCESSING_GUARANTEE is 'exactly_once': use at_"),
        ("latest-reset", {"APP_SETTINGS": "session.timeout.ms=soon"}, "Kafka refuses a setting (Invalid value soon "),
    ],
)
def test_an_app_refuses_a_wrong_environment_in_one_sentence_before_it_starts(
    built: Built, app: str, env: dict[str, str], message: str
) -> None:
    proc = run(app, env={"KAFKA_CHAOS_CACHE": built.cache, **ENV, **env})
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{app}: {message}")
    assert len(proc.stderr.splitlines()) == 1  # no start line, no client's log: nothing was started


def test_an_app_given_arguments_points_to_help_and_help_lists_the_environment(built: Built) -> None:
    refused = run("worker-pool", "--workers", "8", env={"KAFKA_CHAOS_CACHE": built.cache})
    assert (refused.returncode, refused.stderr) == (
        2,
        "worker-pool: takes no arguments (got '--workers'): it reads its configuration from the environment, "
        "listed by --help\n",
    )
    helped = run("worker-pool", "--help", env={"KAFKA_CHAOS_CACHE": built.cache})
    assert (helped.returncode, helped.stderr) == (0, "")
    assert "WORKERS (4), WORK_MS per record (20), MAX_IN_FLIGHT" in helped.stdout


#: value (None: a tombstone) -> what the streams app writes; unknown members are kept as written.
STREAMS_VALUES: list[tuple[bytes | None, str]] = [
    (
        b'{"order":"p0-17","amount":17,"note":"x"}',
        '{"order":"p0-17","amount":17,"note":"x","total_cents":1700,"app":"streams"}',
    ),
    (
        b'{ "order" : "p1-2", "amount": 2.5, "extra": {"a": [1, {"b": null}]}, "app": "old" }',
        '{"order" : "p1-2","amount": 2.5,"extra": {"a": [1, {"b": null}]},"total_cents":250,"app":"streams"}',
    ),
    (b'{"total_cents":1,"amount":-0.015}', '{"amount":-0.015,"total_cents":-1.5,"app":"streams"}'),
    (b'{"amount":1e2}', '{"amount":1e2,"total_cents":10000,"app":"streams"}'),
    (b'{"amount":"17","total_cents":1}', '{"amount":"17","total_cents":1,"app":"streams"}'),
    ('{"n\\"ame":"\\u00e9","é":true}'.encode(), '{"n\\"ame":"\\u00e9","é":true,"app":"streams"}'),
    (b"{}", '{"app":"streams"}'),
    (b"[1,2]", '{"app":"streams","unparsed":true,"value":"[1,2]"}'),
    (b'{"a":1} x', '{"app":"streams","unparsed":true,"value":"{\\"a\\":1} x"}'),
    (b'{"a":"\x01"}', '{"app":"streams","unparsed":true,"value":"{\\"a\\":\\"\\u0001\\"}"}'),
    (b'{"a":01}', '{"app":"streams","unparsed":true,"value":"{\\"a\\":01}"}'),
    (b'{"a":1', '{"app":"streams","unparsed":true,"value":"{\\"a\\":1"}'),
    (b"\xff{}", '{"app":"streams","unparsed":true,"value_base64":"/3t9"}'),
    (None, '{"app":"streams","unparsed":true,"value":null}'),
    (b'{"a":' + b"[" * 300 + b"]" * 300 + b"}", '{"app":"streams","unparsed":true,"value":"{\\"a\\":' + "[" * 300),
]


def enrich(built: Built, jdk: tuple[str, str], tmp_path: Path, app: str, values: list[bytes | None]) -> list[str]:
    """What the apps' ``Json.enrich`` makes of ``values``, through the probe compiled beside the built classes."""
    java, javac = jdk
    build = built.cache / f"apps-4.4.0-{source_hash()}"
    subprocess.run([javac, "-cp", str(build / "classes"), "-d", str(tmp_path), str(PROBE)], check=True, timeout=120)
    lines = "".join("-\n" if v is None else base64.b64encode(v).decode() + "\n" for v in values)
    classpath = f"{tmp_path}:{build / 'classes'}"
    argv = [java, "-cp", classpath, "kcapps.JsonProbe", app, str(app == "streams").lower()]
    proc = subprocess.run(argv, input=lines.encode(), capture_output=True, check=True, timeout=120)
    return proc.stdout.decode().splitlines()


def test_streams_adds_total_cents_and_app_and_wraps_what_is_not_one_json_object(
    built: Built, jdk: tuple[str, str], tmp_path: Path
) -> None:
    got = enrich(built, jdk, tmp_path, "streams", [value for value, _ in STREAMS_VALUES])
    assert got[:-1] == [expected for _, expected in STREAMS_VALUES[:-1]]
    assert got[-1].startswith(STREAMS_VALUES[-1][1])  # nested too deep: wrapped, not a crash


def test_the_consumer_apps_add_only_their_name(built: Built, jdk: tuple[str, str], tmp_path: Path) -> None:
    values: list[bytes | None] = [b'{"order":"p0-1","amount":1,"app":"x"}', b"plain"]
    assert enrich(built, jdk, tmp_path, "worker-pool", values) == [
        '{"order":"p0-1","amount":1,"app":"worker-pool"}',
        '{"app":"worker-pool","unparsed":true,"value":"plain"}',
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], f"there is no app 'nope': name one of {APP_NAMES}"),
        (["--build", "nope"], f"there is no app 'nope': name one of {APP_NAMES}"),
        ([], f"name the app to run: examples/apps/run [--build] APP, where APP is {APP_NAMES}"),
        (
            ["--verbose", "streams"],
            f"there is no option '--verbose': the only one is --build, before the app's name ({APP_NAMES})",
        ),
    ],
)
def test_a_wrong_command_line_exits_2_in_one_sentence_and_builds_nothing(
    args: list[str], message: str, tmp_path: Path
) -> None:
    proc = run(*args, env={"KAFKA_CHAOS_CACHE": tmp_path / "cache"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"examples/apps/run: {message}\n")
    assert not (tmp_path / "cache").exists()


def test_a_kafka_version_that_is_not_a_release_number_exits_2(tmp_path: Path) -> None:
    proc = run("--build", env={"KAFKA_CHAOS_CACHE": tmp_path, "KAFKA_VERSION": "latest"})
    assert (proc.returncode, proc.stderr) == (
        2,
        "examples/apps/run: KAFKA_VERSION is 'latest': set it to a Kafka release such as 4.4.0, or unset it\n",
    )


FAILING_MAVEN = """#!/bin/sh
echo "[ERROR] Failed to execute goal on project example-apps: Could not resolve dependencies"
echo "args: $*"
exit 1
"""


def test_a_failed_build_exits_3_naming_maven_s_output_and_leaves_no_half_build(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mvn").write_text(FAILING_MAVEN)
    (fake / "mvn").chmod(0o755)
    cache = tmp_path / "cache"
    env: dict[str, str | Path] = {
        "KAFKA_CHAOS_CACHE": cache,
        "KAFKA_VERSION": "9.9.9",
        "PATH": f"{fake}:{os.environ['PATH']}",
    }
    proc = run("--build", "streams", env=env)
    log = cache / f"apps-9.9.9-{source_hash()}.log"
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        3,
        "",
        f"examples/apps/run: building the example apps against Kafka 9.9.9 failed (Maven's output is in {log}): "
        "check that a JDK and Maven are installed, that Maven Central is reachable and that 9.9.9 is a Kafka release\n",
    )
    assert [p.name for p in cache.iterdir()] == [log.name]  # the temporary build directory is gone
    error, args = log.read_text().splitlines()
    assert error.startswith("[ERROR] Failed to execute goal")
    # the build goes to a temporary directory in the cache, never beside the pom
    build_dir = args.split("-Dapps.build.dir=")[1].split()[0]
    assert Path(build_dir).parent == cache
    assert Path(build_dir).name.startswith(f".apps-9.9.9-{source_hash()}.")
    assert "-Dkafka.version=9.9.9 " in args
