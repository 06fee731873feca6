"""The deployment files (docker-compose.yml, Dockerfile, README quick start) point at things that exist.

No database: these tests only read files from the repository root.
"""

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat")
REQUIRED_SERVICES = (*APP_SERVICES, "postgres", "redis")
REQUIRED_APP_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")


@pytest.fixture(scope="module")
def compose():
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml has no services mapping"
    return data


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def command_words(command):
    """A compose/Dockerfile command as a list of words (exec form list or shell-form string)."""
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(word) for word in command]


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def depends_on(service):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return dict(deps)


def referenced_files(words):
    """Project files a command needs: WSGI/ASGI modules, the Celery app package, manage.py."""
    needed = []
    for index, word in enumerate(words):
        module = re.fullmatch(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+):[A-Za-z_]\w*", word)
        if module:
            needed.append(module.group(1).replace(".", "/") + ".py")
        if word in ("-A", "--app") and index + 1 < len(words):
            needed.append(words[index + 1].replace(".", "/") + "/celery.py")
        elif word.startswith("--app="):
            needed.append(word.split("=", 1)[1].replace(".", "/") + "/celery.py")
        if word == "manage.py" or word.endswith("/manage.py"):
            needed.append("manage.py")
    return needed


def test_required_services_exist(services):
    missing = [name for name in REQUIRED_SERVICES if name not in services]
    assert not missing, f"docker-compose.yml lacks services: {missing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_are_built_from_this_repository(services, name):
    assert "build" in services[name], f"{name} must be built from the repository (build: .)"


@pytest.mark.parametrize(
    ("name", "expected_words"),
    [
        ("web", ["gunicorn", "config.wsgi:application"]),
        ("worker", ["celery", "-A", "config", "worker"]),
        ("beat", ["celery", "-A", "config", "beat"]),
    ],
)
def test_app_service_commands(services, name, expected_words):
    words = command_words(services[name].get("command"))
    for word in expected_words:
        assert word in words, f"{name} command {words!r} lacks {word!r}"


def test_commands_refer_to_existing_project_files(services):
    checked = 0
    for name, service in services.items():
        if "build" not in service:
            continue
        for relative in referenced_files(command_words(service.get("command"))):
            assert (ROOT / relative).is_file(), f"service {name!r} refers to missing {relative}"
            checked += 1
    # web (config/wsgi.py), worker and beat (config/celery.py) at least.
    assert checked >= len(APP_SERVICES)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_run_after_migrations(services, name):
    service = services[name]
    if "migrate" in command_words(service.get("command")):
        return
    migrating = [
        dep
        for dep, spec in depends_on(service).items()
        if dep in services
        and {"manage.py", "migrate"} <= set(command_words(services[dep].get("command")))
        and (spec or {}).get("condition") == "service_completed_successfully"
    ]
    assert migrating, f"{name} neither runs migrations nor waits for a migrate service to complete"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_environment(services, name):
    env = environment(services[name])
    missing = [key for key in REQUIRED_APP_ENV if not env.get(key)]
    assert not missing, f"{name} environment lacks {missing}"
    # The secret comes from the caller's environment, never from the file itself.
    assert str(env["SECRET_KEY"]).startswith("${SECRET_KEY"), f"{name} hardcodes SECRET_KEY"
    assert env.get("LEDGERLINE_ENV") == "production"


@pytest.mark.parametrize(("variable", "target"), [("DATABASE_URL", "postgres"), ("REDIS_URL", "redis")])
def test_service_urls_point_at_compose_services(services, variable, target):
    for name in APP_SERVICES:
        url = urlsplit(str(environment(services[name])[variable]))
        assert url.hostname == target, f"{name} {variable} points at {url.hostname!r}, not {target!r}"
    assert target in services


@pytest.mark.parametrize("name", ["postgres", "redis", "web"])
def test_healthchecks(services, name):
    test = (services[name].get("healthcheck") or {}).get("test")
    assert test, f"{name} has no healthcheck"
    if name == "web":
        assert "/healthz" in " ".join(command_words(test))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_backends(services, name):
    deps = depends_on(services[name])
    for backend in ("postgres", "redis"):
        assert backend in deps, f"{name} does not depend on {backend}"
        condition = deps[backend].get("condition")
        assert condition == "service_healthy", f"{name} starts before {backend} is healthy"


def dockerfile_instructions():
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    pairs = []
    for text in logical:
        instruction, _, arguments = text.partition(" ")
        pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_dockerfile_cmd_serves_config_wsgi():
    cmds = [args for instruction, args in dockerfile_instructions() if instruction == "CMD"]
    assert cmds, "Dockerfile has no CMD"
    cmd = cmds[-1]
    words = yaml.safe_load(cmd) if cmd.startswith("[") else shlex.split(cmd)
    assert "gunicorn" in words[0]
    assert "config.wsgi:application" in words
    for relative in referenced_files(words):
        assert (ROOT / relative).is_file(), f"Dockerfile CMD refers to missing {relative}"
    assert (ROOT / "config" / "wsgi.py").is_file()


def test_dockerfile_healthcheck_uses_healthz():
    checks = [args for instruction, args in dockerfile_instructions() if instruction == "HEALTHCHECK"]
    assert checks and "/healthz" in checks[-1]


def makefile_targets():
    targets = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)", line)
        if match and not line.startswith("\t"):
            targets.update(match.group(1).split())
    return targets


def readme_section(title):
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"#+\s", line) and title.lower() in line.lower()),
        None,
    )
    assert start is not None, f"README has no {title!r} section"
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if re.match(r"#+\s", lines[i]) and len(lines[i]) - len(lines[i].lstrip("#")) <= level
        ),
        len(lines),
    )
    return lines[start + 1 : end]


def code_lines(lines):
    """Lines inside fenced code blocks."""
    inside, found = False, []
    for line in lines:
        if line.strip().startswith("```"):
            inside = not inside
            continue
        if inside:
            found.append(line.strip())
    return found


def test_makefile_has_the_quick_start_targets():
    targets = makefile_targets()
    assert {"demo", "test"} <= targets, f"Makefile targets found: {sorted(targets)}"


def test_readme_quick_start_is_make_demo_and_make_test():
    lines = code_lines(readme_section("Quick start"))
    commands = [line for line in lines if line and not line.startswith("#")]
    assert commands == ["make demo", "make test"]


def make_targets_named(snippet):
    """Targets of every `make ...` call in a shell snippet (`make [VAR=value] [-flags] target`)."""
    try:
        words = shlex.split(snippet, comments=True)
    except ValueError:
        words = snippet.split()
    named = set()
    for index, word in enumerate(words):
        if word != "make":
            continue
        for candidate in words[index + 1 :]:
            if candidate in (";", "&&", "||", "|"):
                break
            if "=" in candidate or candidate.startswith("-"):
                continue
            named.add(candidate)
            break
    return named


def test_every_make_target_in_readme_exists():
    text = (ROOT / "README.md").read_text()
    snippets = code_lines(text.splitlines()) + re.findall(r"`([^`\n]+)`", text)
    named = set().union(*(make_targets_named(snippet) for snippet in snippets))
    assert {"demo", "test"} <= named, f"README make targets: {sorted(named)}"
    missing = sorted(named - makefile_targets())
    assert not missing, f"README names make targets the Makefile lacks: {missing}"
