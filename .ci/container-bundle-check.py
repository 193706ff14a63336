"""Check the Elastic Beanstalk bundle pieces, and lay out the bundle `eb deploy` would send.

Run by .ci/container-proof with a throwaway virtualenv holding PyYAML and
pathspec (the EB CLI matches .ebignore with pathspec's gitwildmatch, so the
bundle laid out here holds the files it would zip). Prints one line per check;
exits 1 when any fails.

    python .ci/container-bundle-check.py --repo . --max-body-bytes 1048576 \
        --worker-timeout 30 --stop-bound-seconds 8 --bundle-out DIR
"""

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import yaml
from pathspec import PathSpec

HEALTH_NAMESPACE = "aws:elasticbeanstalk:environment:process:default"
HEALTH_PATH = "/health"
LB_NAMESPACE = "aws:elbv2:loadbalancer"
# nginx's keep-alive with clients on EB's platforms (its generated server block): the balancer's
# idle timeout must stay below it.
EB_NGINX_KEEPALIVE_S = 60
# How long nginx keeps an idle connection to the app open (its upstream keepalive_timeout, default
# 60 s, which EB's generated upstream block leaves as it is): the app must keep it open longer, or it
# could close one just as nginx sends a request on it.
EB_NGINX_UPSTREAM_KEEPALIVE_S = 60
# The option names EB documents, with their sources (written from EB's documentation).
EB_OPTIONS = Path(__file__).with_name("eb-options.txt")
PROCFILE_WEB = "gunicorn --config python:wsgi_service.operations.gunicorn_config --bind 0.0.0.0:8000"
# EB's own rule for a Procfile line (platforms-linux-extend, "Procfile").
PROCFILE_LINE = re.compile(r"^[A-Za-z0-9_-]+:\s*[^\s].*$")
NGINX_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")
NGINX_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
# What must reach the instance, and what must not.
BUNDLE_MUST_HOLD = ["Procfile", "Dockerfile", ".dockerignore", "constraints.txt", "setup.cfg",
                    "pyproject.toml", ".ebextensions/01-health.config",
                    ".platform/nginx/conf.d/client_max_body_size.conf",
                    "wsgi_service/__init__.py", "training/__main__.py", "contract/openapi.json"]
BUNDLE_MUST_NOT_HOLD = re.compile(r"(^|/)(\.git|\.venv|models|__pycache__|tests|\.pytest_cache|"
                                  r"\.hypothesis|[^/]*\.egg-info)(/|$)|\.joblib$|\.pyc$")


class Checks:
    def __init__(self):
        self.failures = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")
        self.failures += not ok
        return ok


def option_settings(document: object) -> list[tuple[str, str, object]]:
    """(namespace, option, value) from either form EB accepts: a mapping or a list."""
    settings = document.get("option_settings", {}) if isinstance(document, dict) else {}
    if isinstance(settings, dict):
        return [(ns, name, value) for ns, options in settings.items()
                for name, value in (options or {}).items()]
    return [(item.get("namespace"), item.get("option_name"), item.get("value")) for item in settings]


def documented_options(path: Path = EB_OPTIONS) -> tuple[set[tuple[str, str]], set[str]]:
    """(namespace, option) pairs EB documents, and the namespaces that take any option name."""
    pairs, any_name = set(), set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# any-option-name:"):
            any_name.add(line.split(":", 1)[1].strip())
        elif line.strip() and not line.startswith("#"):
            namespace, option = line.split(" ", 1)
            pairs.add((namespace, option.strip()))
    return pairs, any_name


def ebextensions_settings(repo: Path, checks: Checks) -> dict[tuple[str, str], object]:
    """Every option setting of .ebextensions/*.config, each file checked to parse."""
    configs = sorted((repo / ".ebextensions").glob("*.config"))
    checks.check(bool(configs), ".ebextensions holds configuration files", str(len(configs)))
    found = {}
    for path in configs:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            checks.check(False, f"{path.relative_to(repo)} parses as YAML", str(error).splitlines()[0])
            continue
        checks.check(isinstance(document, dict), f"{path.relative_to(repo)} parses as a YAML mapping")
        found.update({(ns, name): value for ns, name, value in option_settings(document)})
    return found


def check_ebextensions(repo: Path, settings: dict, stop_bound_s: float, checks: Checks) -> None:
    documented, any_name = documented_options()
    unknown = [f"{ns} {name}" for ns, name in settings if (ns, name) not in documented and ns not in any_name]
    checks.check(not unknown, f"every option is one EB documents ({EB_OPTIONS.name})",
                 "; ".join(unknown) or f"{len(settings)} options")
    checks.check(settings.get((HEALTH_NAMESPACE, "HealthCheckPath")) == HEALTH_PATH,
                 f"HealthCheckPath in {HEALTH_NAMESPACE}", repr(settings.get((HEALTH_NAMESPACE, "HealthCheckPath"))))
    delay = settings.get((HEALTH_NAMESPACE, "DeregistrationDelay"))
    checks.check(isinstance(delay, int) and delay >= stop_bound_s,
                 "DeregistrationDelay covers the service's stop (SIGTERM to exit)", f"{delay} s >= {stop_bound_s} s")


def nginx_bytes(size: str) -> int | None:
    match = NGINX_SIZE.match(size)
    return int(match[1]) * NGINX_UNITS[match[2].lower()] if match else None


def check_nginx(repo: Path, max_body_bytes: int, checks: Checks) -> None:
    conf_d = repo / ".platform/nginx/conf.d"
    directives = [(path, match[1]) for path in sorted(conf_d.glob("*.conf"))
                  for match in re.finditer(r"^\s*client_max_body_size\s+(\S+?)\s*;", path.read_text(), re.M)]
    checks.check(len(directives) == 1, "one client_max_body_size in .platform/nginx/conf.d/*.conf",
                 ", ".join(f"{path.name}: {size}" for path, size in directives) or "none")
    for path, size in directives:
        checks.check(nginx_bytes(size) == max_body_bytes,
                     "client_max_body_size equals the service's DEFAULT_MAX_BODY_BYTES",
                     f"{size} = {nginx_bytes(size)} bytes, service {max_body_bytes}")
    for path in sorted((conf_d / "elasticbeanstalk").glob("*.conf")):
        text = path.read_text()
        if "error_page 413" in text:
            numbers = {int(number) for pair in re.findall(r'"limit":(\d+)|exceeds (\d+) bytes', text)
                       for number in pair if number}
            checks.check(numbers == {max_body_bytes}, f"{path.relative_to(repo)} states the same limit",
                         repr(sorted(numbers)))


def check_timeouts(repo: Path, settings: dict, worker_timeout_s: int, keepalive_s: int, checks: Checks) -> None:
    """gunicorn's worker timeout < nginx's wait for the app < the balancer's idle timeout < nginx's keep-alive;
    nginx's upstream keep-alive < the app's."""
    text = "".join(path.read_text() for path in sorted((repo / ".platform/nginx/conf.d").rglob("*.conf")))
    read = re.search(r"^\s*proxy_read_timeout\s+(\d+)s?\s*;", text, re.M)
    idle = settings.get((LB_NAMESPACE, "IdleTimeout"))
    order = (worker_timeout_s, int(read[1]) if read else None, idle, EB_NGINX_KEEPALIVE_S)
    checks.check(None not in order and list(order) == sorted(set(order)),
                 "worker timeout < nginx proxy_read_timeout < balancer IdleTimeout < nginx keep-alive",
                 " < ".join(f"{value} s" for value in order))
    checks.check(EB_NGINX_UPSTREAM_KEEPALIVE_S < keepalive_s, "nginx's upstream keepalive_timeout < the app's keep-alive",
                 f"{EB_NGINX_UPSTREAM_KEEPALIVE_S} s < {keepalive_s} s")


def check_procfile(repo: Path, checks: Checks) -> None:
    lines = [line for line in (repo / "Procfile").read_text().splitlines() if line.strip()]
    checks.check(all(PROCFILE_LINE.match(line) for line in lines), "Procfile lines match EB's syntax")
    web = [line.split(":", 1)[1].split() for line in lines if line.startswith("web:")]
    checks.check(web == [PROCFILE_WEB.split()], "Procfile's web command", " ".join(web[0]) if web else "none")


def check_hooks(repo: Path, checks: Checks) -> None:
    hooks = sorted(path for kind in ("hooks", "confighooks")
                   for path in (repo / ".platform" / kind).glob("*/*") if path.is_file())
    checks.check(bool(hooks), ".platform holds platform hooks", str(len(hooks)))
    tracked = _git_modes(repo)
    for path in hooks:
        name = str(path.relative_to(repo))
        checks.check(path.stat().st_mode & stat.S_IXUSR != 0, f"{name} is executable")
        checks.check(path.read_bytes().startswith(b"#!"), f"{name} starts with #!")
        syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        checks.check(syntax.returncode == 0, f"{name} passes bash -n", syntax.stderr.strip())
        if name in tracked:
            checks.check(tracked[name] == "100755", f"{name} is executable in git's index", tracked[name])


def _git_modes(repo: Path) -> dict[str, str]:
    listing = subprocess.run(["git", "-C", str(repo), "ls-files", "-s", ".platform"],
                             capture_output=True, text=True)
    return {line.split("\t", 1)[1]: line.split()[0] for line in listing.stdout.splitlines()}


def lay_out_bundle(repo: Path, out: Path, checks: Checks) -> None:
    """Copy what `eb deploy` would zip (files not matched by .ebignore) into ``out``."""
    lines = (repo / ".ebignore").read_text(encoding="utf-8").splitlines()
    spec = PathSpec.from_lines("gitwildmatch", lines)
    kept = []
    for root, dirs, names in os.walk(repo):
        prefix = "" if Path(root) == repo else Path(root).relative_to(repo).as_posix() + "/"
        dirs[:] = sorted(d for d in dirs if not spec.match_file(f"{prefix}{d}/"))  # .venv/ is never walked
        kept += [f"{prefix}{name}" for name in names if not spec.match_file(f"{prefix}{name}")]
    kept = sorted(set(kept) - {".ebignore"})
    for rel in kept:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, out / rel)  # modes too: EB needs the hooks executable
    missing = [name for name in BUNDLE_MUST_HOLD if name not in kept]
    leaked = [rel for rel in kept if BUNDLE_MUST_NOT_HOLD.search(rel)]
    checks.check(not missing, "the bundle holds what the instance needs", ", ".join(missing) or f"{len(kept)} files")
    checks.check(not leaked, ".ebignore keeps caches, virtualenvs, tests, .git and trained files out",
                 ", ".join(leaked[:5]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--max-body-bytes", type=int, required=True)
    parser.add_argument("--worker-timeout", type=int, required=True, help="gunicorn's worker timeout, s")
    parser.add_argument("--keepalive", type=int, required=True, help="the app's idle keep-alive, s")
    parser.add_argument("--stop-bound-seconds", type=float, required=True, help="SIGTERM to exit, at most")
    parser.add_argument("--bundle-out", type=Path, help="lay out the EB source bundle here")
    args = parser.parse_args()
    repo, checks = args.repo.resolve(), Checks()
    settings = ebextensions_settings(repo, checks)
    check_ebextensions(repo, settings, args.stop_bound_seconds, checks)
    check_timeouts(repo, settings, args.worker_timeout, args.keepalive, checks)
    check_nginx(repo, args.max_body_bytes, checks)
    check_procfile(repo, checks)
    check_hooks(repo, checks)
    if args.bundle_out:
        lay_out_bundle(repo, args.bundle_out, checks)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
