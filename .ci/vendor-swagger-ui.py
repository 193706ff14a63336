"""Vendor Swagger UI for GET /docs: the few files the page needs, from one pinned npm release.

The service serves every byte of its docs page itself (no CDN, no internet),
so the files are copies committed under wsgi_service/edge/docs/swagger-ui/,
with pin.json recording the release, the npm tarball's integrity and each
file's SHA-256 (a unit test holds the files to those hashes). This script
makes the copies reproducible: it fetches the release with `npm pack` (npm
checks the tarball against the registry's integrity) and either compares it
with what is committed, or writes a new release in place.

    python .ci/vendor-swagger-ui.py                  # check: the committed copies are the pinned release's
    python .ci/vendor-swagger-ui.py --update 5.36.0  # vendor that release instead (or: --update latest)

Needs npm and the npm registry. After --update, run the unit tests, then the
browser test (tests/live/test_docs_page.py), and change the version the
README names.
"""

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENDORED = REPO_ROOT / "wsgi_service" / "edge" / "docs" / "swagger-ui"
PIN = VENDORED / "pin.json"
PACKAGE = "swagger-ui-dist"
# What the page loads, and the licences that must travel with it; nothing else of the package.
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png",
         "LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(version: str, scratch: Path) -> tuple[str, str, dict[str, bytes]]:
    """``npm pack`` the release; its exact version, the tarball's integrity, and the files of ``FILES``."""
    packed = subprocess.run(["npm", "pack", "--json", f"{PACKAGE}@{version}"], cwd=scratch, check=True,
                            capture_output=True, text=True)
    info = json.loads(packed.stdout)[0]
    tarball = scratch / info["filename"]
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if integrity != info["integrity"]:
        sys.exit(f"error: {tarball.name} hashes to {integrity}, npm says {info['integrity']}")
    with tarfile.open(tarball) as archive:
        files = {name: archive.extractfile(f"package/{name}").read() for name in FILES}
    return info["version"], integrity, files


def check(pin: dict, version: str, integrity: str, files: dict[str, bytes]) -> list[str]:
    """Every way the committed copies differ from the release npm serves."""
    problems = []
    if integrity != pin["tarball_integrity"]:
        problems.append(f"the {PACKAGE} {version} tarball is {integrity}, pin.json records {pin['tarball_integrity']}")
    if sorted(pin["files"]) != sorted(FILES):
        problems.append(f"pin.json lists {sorted(pin['files'])}, this script vendors {sorted(FILES)}")
    for name, data in files.items():
        committed = VENDORED / name
        if not committed.is_file():
            problems.append(f"{name}: not vendored")
        elif committed.read_bytes() != data:
            problems.append(f"{name}: differs from {PACKAGE} {version}'s")
        elif pin["files"].get(name) != sha256(data):
            problems.append(f"{name}: pin.json records {pin['files'].get(name)}, the file hashes to {sha256(data)}")
    return problems


def write(version: str, integrity: str, files: dict[str, bytes]) -> None:
    VENDORED.mkdir(parents=True, exist_ok=True)
    for stale in VENDORED.iterdir():
        if stale.name not in FILES and stale != PIN:
            stale.unlink()
    for name, data in files.items():
        (VENDORED / name).write_bytes(data)
    pin = {"package": PACKAGE, "version": version, "tarball_integrity": integrity,
           "files": {name: sha256(data) for name, data in sorted(files.items())}}
    PIN.write_text(json.dumps(pin, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", metavar="VERSION",
                        help="vendor this release (an exact version, or latest) and rewrite pin.json")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swagger-ui-") as scratch:
        if options.update:
            version, integrity, files = fetch(options.update, Path(scratch))
            write(version, integrity, files)
            print(f"vendored {PACKAGE} {version} ({integrity}) into {VENDORED.relative_to(REPO_ROOT)}")
            return 0
        pin = json.loads(PIN.read_text())
        version, integrity, files = fetch(pin["version"], Path(scratch))
    problems = check(pin, version, integrity, files)
    for problem in problems:
        print(f"FAIL {problem}")
    if not problems:
        print(f"OK {len(files)} files are {PACKAGE} {version}'s, byte for byte ({integrity})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
