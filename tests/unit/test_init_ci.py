"""The CI files and pytest lines ``kafka-chaos init`` writes: the structure GitHub Actions and GitLab
CI require, every ``kafka-chaos`` command in them accepted by the CLI as written (resolved and
parsed, not run), and the pytest lines read by pytest from each kind of configuration file."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from chaos.cli import cli, main
from chaos.cli.init import SUDO, workflow_commands
from chaos.engine import bind_address, published_host
from chaos.errors import UsageError
from chaos.experiments.loading import load_suite

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "settings"
GITHUB = ".github/workflows/kafka-chaos.yml"
GITLAB = ".gitlab-ci.yml"
SHELL_OPERATORS = {"&&", "||", ";", "|"}
#: Keys of a .gitlab-ci.yml that are not jobs.
GITLAB_GLOBAL = {"stages", "variables", "default", "include", "workflow", "image", "services", "cache"}


def write_starter(root: Path, *args: str) -> None:
    """``kafka-chaos init --dir root ARGS``, which must succeed."""
    try:
        main(["init", "--dir", str(root), *args])
    except SystemExit as e:
        assert e.code in (0, None), f"init exited {e.code}"


def team_repo(root: Path) -> list[str]:
    """examples/settings' safe producer, manual-commit consumer and topic in ``root/config``; init's arguments."""
    (root / "config").mkdir(parents=True)
    args = []
    for role, example in (
        ("producer", "producer-safe"),
        ("consumer", "consumer-manual-commit"),
        ("topic", "topic-min-isr-2"),
    ):
        shutil.copy(EXAMPLES / f"{example}.properties", root / "config" / f"{role}.properties")
        args += [f"--{role}-config", str(root / "config" / f"{role}.properties")]
    return args


REVIEW = (
    "kafka-chaos validate --static-only --producer-config config/producer.properties --consumer-config "
    "config/consumer.properties --topic-config config/topic.properties --client java --reports reports"
)


def kafka_chaos_commands(script: str) -> list[list[str]]:
    """The arguments of each ``kafka-chaos`` command in a shell ``script`` (``pip install
    "kafka-chaos==…"`` is a package, not a command)."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        for i, word in enumerate(words):
            if word == "kafka-chaos":
                args = []
                for arg in words[i + 1 :]:
                    if arg in SHELL_OPERATORS:
                        break
                    args.append(arg)
                found.append(args)
    return found


def parse(args: list[str]) -> click.Context:
    """The context ``kafka-chaos ARGS`` would run in: every group resolved to its command and every
    option and argument parsed and converted, nothing invoked.

    Raises:
        click.ClickException: an unknown command or option, a missing or malformed value.
    """
    command: click.Command = cli
    name, words, parent = "kafka-chaos", list(args), None
    while True:
        ctx = command.make_context(name, words, parent=parent)
        if not isinstance(command, click.Group):
            return ctx
        sub_name, sub, words = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None and sub_name is not None
        command, name, parent = sub, sub_name, ctx


def github_scripts(data: dict[str, Any]) -> list[str]:
    return [step["run"] for job in data["jobs"].values() for step in job["steps"] if "run" in step]


def gitlab_scripts(data: dict[str, Any]) -> list[str]:
    jobs = [job for key, job in data.items() if key not in GITLAB_GLOBAL]
    return [line for job in jobs for key in ("before_script", "script") for line in job.get(key, [])]


def test_the_command_checker_refuses_what_the_cli_would() -> None:
    for wrong in (
        ["run", "experiments/", "--report", "reports"],  # no such option
        ["validate", "--static-only", "--producer-config", "p.properties"],  # --consumer-config is required
        ["images", "biuld"],
        ["run", "--repeat", "0", "experiments/"],
    ):
        with pytest.raises(click.ClickException):
            parse(wrong)
    assert parse(["run", "experiments/", "--reports", "r"]).params["reports_dir"] == Path("r")
    assert kafka_chaos_commands(
        'pip install "kafka-chaos==1.0"\nsudo -E env "PATH=$PATH" kafka-chaos images build'
    ) == [["images", "build"]]


def test_the_github_workflow_has_the_structure_actions_requires(tmp_path: Path) -> None:
    write_starter(tmp_path, *team_repo(tmp_path))
    data = yaml.safe_load((tmp_path / GITHUB).read_text())
    assert data["name"] == "kafka-chaos" and set(data[True]) == {"pull_request", "push", "workflow_dispatch"}  # `on:`
    assert list(data["jobs"]) == ["review", "experiments"]
    for job in data["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest" and isinstance(job["timeout-minutes"], int)
        assert job["steps"][0] == {"uses": "actions/checkout@v4"}
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step
        upload = job["steps"][-1]
        assert (upload["uses"], upload["if"], upload["with"]["path"]) == (
            "actions/upload-artifact@v4",
            "always()",
            "reports/",
        )
    experiments = data["jobs"]["experiments"]
    assert experiments["env"] == {"KAFKA_CHAOS_CACHE": "${{ runner.temp }}/kafka-chaos-cache"}
    install = experiments["steps"][2]["run"]
    assert "sudo apt-get install -y debootstrap maven golang-go default-jdk-headless" in install


def test_every_kafka_chaos_command_of_the_github_workflow_parses_and_names_what_init_wrote(tmp_path: Path) -> None:
    write_starter(tmp_path, *team_repo(tmp_path))
    data = yaml.safe_load((tmp_path / GITHUB).read_text())
    commands = [args for script in github_scripts(data) for args in kafka_chaos_commands(script)]
    assert [args[:2] for args in commands] == [
        ["validate", "--static-only"],
        ["images", "build"],
        ["run", "experiments/"],
    ]
    contexts = [parse(args) for args in commands]
    review, _, run = contexts
    assert (review.params["producer_config"], review.params["consumer_config"], review.params["client"]) == (
        Path("config/producer.properties"),
        Path("config/consumer.properties"),
        "java",
    )
    assert (tmp_path / review.params["producer_config"]).is_file() and (
        tmp_path / review.params["consumer_config"]
    ).is_file()
    assert run.params["reports_dir"] == Path("reports")
    assert len(load_suite([tmp_path / p for p in run.params["paths"]])) == 2


def test_workflow_commands_are_the_shell_commands_after_the_install(tmp_path: Path) -> None:
    write_starter(tmp_path, *team_repo(tmp_path))
    assert workflow_commands(tmp_path / GITHUB) == [
        REVIEW,
        f"{SUDO}kafka-chaos images build",
        "kafka-chaos run experiments/ --reports reports",
    ]
    assert workflow_commands(tmp_path / GITHUB, as_root=True)[1] == "kafka-chaos images build"
    with pytest.raises(UsageError, match="is not a workflow of jobs with steps"):
        workflow_commands(tmp_path / GITLAB)  # GitLab's jobs are no Actions workflow


def test_the_review_passes_the_teams_safe_files_for_real(
    tmp_path: Path, jdk: tuple[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_starter(tmp_path, *team_repo(tmp_path))
    (review,) = [c for c in workflow_commands(tmp_path / GITHUB) if " validate " in c]
    monkeypatch.chdir(tmp_path)  # where CI checks the repository out
    main([*shlex.split(review)[1:], "-q"])  # PASS returns; FAIL would exit 1
    assert "# kafka-chaos validate: PASS" in capsys.readouterr().out
    (junit,) = tmp_path.glob("reports/*/junit.xml")  # the artifacts:reports:junit glob finds it
    assert junit.parent.name.startswith("validate-")


def test_without_the_team_files_the_workflows_have_no_review(tmp_path: Path) -> None:
    write_starter(tmp_path)
    github = yaml.safe_load((tmp_path / GITHUB).read_text())
    gitlab = yaml.safe_load((tmp_path / GITLAB).read_text())
    assert list(github["jobs"]) == ["experiments"]
    assert set(gitlab) - GITLAB_GLOBAL == {"kafka-chaos-experiments"}
    assert workflow_commands(tmp_path / GITHUB) == [
        f"{SUDO}kafka-chaos images build",
        "kafka-chaos run experiments/ --reports reports",
    ]


def test_a_team_file_outside_the_repository_is_not_reviewed_and_init_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = team_repo(tmp_path / "elsewhere")
    write_starter(tmp_path / "repo", *args)
    out = capsys.readouterr().out
    outside = tmp_path / "elsewhere" / "config"
    files = " or ".join(str(outside / f"{role}.properties") for role in ("producer", "consumer", "topic"))
    assert (
        f"the workflows do not review {files} with validate: CI sees only {tmp_path / 'repo'}; copy the files in "
        "and run init again with --force"
    ) in out.splitlines()
    assert list(yaml.safe_load((tmp_path / "repo" / GITHUB).read_text())["jobs"]) == ["experiments"]


def test_the_gitlab_file_runs_on_docker_in_docker_with_the_structure_gitlab_requires(tmp_path: Path) -> None:
    write_starter(tmp_path, *team_repo(tmp_path))
    data = yaml.safe_load((tmp_path / GITLAB).read_text())
    jobs = {key: job for key, job in data.items() if key not in GITLAB_GLOBAL}
    assert data["stages"] == ["kafka-chaos"] and list(jobs) == ["kafka-chaos-review", "kafka-chaos-experiments"]
    for job in jobs.values():
        assert job["stage"] in data["stages"] and all(isinstance(line, str) for line in job["script"])
        assert job["artifacts"] == {
            "when": "always",
            "paths": ["reports/"],
            "reports": {"junit": "reports/*/junit.xml"},
        }
    experiments = jobs["kafka-chaos-experiments"]
    assert experiments["services"] == ["docker:dind"]
    variables = experiments["variables"]
    assert (variables["DOCKER_HOST"], variables["DOCKER_TLS_CERTDIR"]) == ("tcp://docker:2375", "")
    # what the harness makes of that engine: brokers advertised at the service's host, ports on all its interfaces
    host = published_host({"DOCKER_HOST": variables["DOCKER_HOST"]})
    assert (host, bind_address(host)) == ("docker", "0.0.0.0")
    commands = [args for line in gitlab_scripts(data) for args in kafka_chaos_commands(line)]
    assert [args[:2] for args in commands] == [
        ["validate", "--static-only"],
        ["images", "build"],
        ["run", "experiments/"],
    ]
    for args in commands:
        parse(args)
    assert experiments["script"] == ["kafka-chaos images build", "kafka-chaos run experiments/ --reports reports"]


def test_a_path_yaml_would_misread_is_quoted_in_both_files(tmp_path: Path) -> None:
    (tmp_path / "my config #1").mkdir()
    for role in ("producer", "consumer"):
        shutil.copy(EXAMPLES / "producer-safe.properties", tmp_path / "my config #1" / f"{role}.properties")
    write_starter(
        tmp_path,
        "--producer-config",
        str(tmp_path / "my config #1" / "producer.properties"),
        "--consumer-config",
        str(tmp_path / "my config #1" / "consumer.properties"),
    )
    github = yaml.safe_load((tmp_path / GITHUB).read_text())
    gitlab = yaml.safe_load((tmp_path / GITLAB).read_text())
    for scripts in (github_scripts(github), gitlab_scripts(gitlab)):
        (review,) = [parse(args) for s in scripts for args in kafka_chaos_commands(s) if args[0] == "validate"]
        assert review.params["producer_config"] == Path("my config #1/producer.properties")


def test_the_next_commands_init_prints_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_starter(tmp_path / "a repo")
    last = capsys.readouterr().out.splitlines()[-1]
    hints = last.split("`")[1::2]
    assert hints == ["kafka-chaos images build", f"kafka-chaos run '{tmp_path / 'a repo'}/experiments/'"]
    run = parse(shlex.split(hints[1])[1:])
    assert len(load_suite(run.params["paths"])) == 2
    parse(shlex.split(hints[0])[1:])


INI = "kafka_chaos_experiments =\n    experiments/*.yaml"
TOML = 'kafka_chaos_experiments = ["experiments/*.yaml"]'


@pytest.mark.parametrize(
    ("name", "content", "lines"),
    [
        ("pyproject.toml", "[tool.pytest.ini_options]\naddopts = '-q'\n", f"[tool.pytest.ini_options]\n{TOML}\n"),
        ("pyproject.toml", "[tool.pytest]\naddopts = ['-q']\n", f"[tool.pytest]\n{TOML}\n"),
        ("pytest.toml", "[pytest]\n", f"[pytest]\n{TOML}\n"),
        ("tox.ini", "[tox]\nenvlist = py\n\n[pytest]\naddopts = -q\n", f"[pytest]\n{INI}\n"),
        ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q\n", f"[tool:pytest]\n{INI}\n"),
        (".pytest.ini", "[pytest]\n", f"[pytest]\n{INI}\n"),
    ],
)
def test_with_a_pytest_configuration_init_prints_the_lines_in_its_syntax(
    name: str, content: str, lines: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / name).write_text(content)
    write_starter(tmp_path, "--ci", "none")
    out = capsys.readouterr().out
    assert f"add to {tmp_path / name}, so pytest collects the experiments:\n{lines}" in out
    assert not (tmp_path / "pytest.ini").exists() and (tmp_path / name).read_text() == content
    section, _, body = lines.partition("\n")
    if name.endswith(".toml"):
        assert tomllib.loads(body)["kafka_chaos_experiments"] == ["experiments/*.yaml"]
    else:
        parser = configparser.ConfigParser()
        parser.read_string(lines)
        assert parser[section.strip("[]")]["kafka_chaos_experiments"].split() == ["experiments/*.yaml"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("pytest.ini", None),
        ("pyproject.toml", "[tool.pytest.ini_options]\n"),
        ("pyproject.toml", "[tool.pytest]\n"),
        ("pytest.toml", "[pytest]\n"),
        ("tox.ini", "[pytest]\n"),
        ("setup.cfg", "[tool:pytest]\n"),
    ],
)
def test_pytest_reads_the_glob_from_the_lines_init_gives(
    name: str, content: str | None, pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    if content is not None:
        (pytester.path / name).write_text(content)
    write_starter(pytester.path, "--ci", "none")
    if content is not None:  # the lines init printed, under the section the file had
        printed = capsys.readouterr().out.split("so pytest collects the experiments:\n", 1)[1].split("\nnext: ")[0]
        (pytester.path / name).write_text(printed + "\n")
    pytester.makeconftest(
        "def pytest_addoption(parser):\n    parser.addini('kafka_chaos_experiments', 'globs', type='linelist')\n"
    )
    pytester.makepyfile(
        test_glob=f"def test_glob(pytestconfig):\n"
        f"    assert pytestconfig.inipath.name == {name!r}\n"
        f"    assert pytestconfig.getini('kafka_chaos_experiments') == ['experiments/*.yaml']\n"
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:kafka_chaos", "test_glob.py").assert_outcomes(passed=1)


def test_every_complete_command_in_docs_ci_parses() -> None:
    text = (ROOT / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    inline = re.findall(r"`(kafka-chaos [^`]*)`", text)
    commands = [args for block in blocks for args in kafka_chaos_commands(block)]
    commands += [shlex.split(hint)[1:] for hint in inline if "…" not in hint]
    assert len(commands) >= 8, commands
    for args in commands:
        if len(args) == 1:  # a command named in a sentence ("the form `kafka-chaos validate` reads them")
            assert cli.get_command(click.Context(cli), args[0]) is not None, args
        else:
            parse(args)


def test_the_workflows_install_what_the_team_names_and_the_release_by_default(tmp_path: Path) -> None:
    default, wheel = tmp_path / "default", tmp_path / "wheel"
    write_starter(default)
    for name in (GITHUB, GITLAB):
        assert "pip install kafka-chaos==0.1.0\n" in (default / name).read_text()
    direct = "kafka-chaos @ https://example.org/kafka_chaos-0.1.0-py3-none-any.whl"
    write_starter(wheel, "--package", direct)
    github = yaml.safe_load((wheel / GITHUB).read_text())
    installs = [s["run"] for job in github["jobs"].values() for s in job["steps"] if "pip install" in s.get("run", "")]
    assert installs == [f"pip install {shlex.quote(direct)}"]
    assert shlex.split(installs[0])[2] == direct  # one shell word, read back by YAML as written
    gitlab = yaml.safe_load((wheel / GITLAB).read_text())
    assert f"pip install {shlex.quote(direct)}" in gitlab["kafka-chaos-experiments"]["before_script"]
    assert workflow_commands(wheel / GITHUB)[-1] == "kafka-chaos run experiments/ --reports reports"


def test_a_package_yaml_would_misread_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["init", "--dir", str(tmp_path), "--package", "kafka-chaos #latest"])
    assert info.value.code == 2
    assert not (tmp_path / GITHUB).exists()
