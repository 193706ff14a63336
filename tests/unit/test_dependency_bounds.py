"""setup.cfg's runtime ranges against constraints.txt, the exact versions CI installs: each range admits
its tested version, and its upper bound is the next minor release, so nothing untested installs."""

import configparser

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.harness.server import REPO_ROOT


def runtime_requirements() -> list[Requirement]:
    """install_requires, and the dataframe extra a model fitted on a DataFrame serves with."""
    setup = configparser.ConfigParser()
    setup.read(REPO_ROOT / "setup.cfg")
    lines = [*setup["options"]["install_requires"].splitlines(),
             *setup["options.extras_require"]["dataframe"].splitlines()]
    return [Requirement(line) for line in lines if line.strip() and not line.strip().startswith("#")]


def pinned() -> dict[str, Version]:
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if "==" in line and not line.startswith("#")]
    return {name.strip().lower().replace("_", "-"): Version(version.strip()) for name, version in pins}


@pytest.mark.parametrize("requirement", runtime_requirements(), ids=str)
def test_each_range_admits_the_tested_minor_release_and_nothing_newer(requirement):
    tested = pinned()[requirement.name.lower()]
    assert tested in requirement.specifier, f"{requirement} refuses {tested}, the version CI tests"
    upper = [spec.version for spec in requirement.specifier if spec.operator == "<"]
    next_minor = f"{tested.major}.{tested.minor + 1}"
    assert upper == [next_minor], (f"{requirement}: CI tests {tested}, so the bound is <{next_minor} "
                                   f"(raise both together once CI passes with a newer release)")
