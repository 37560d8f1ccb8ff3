"""environment.yml (conda users) and pyproject.toml (pip users) must install the same runtime."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge spells a few packages differently from PyPI.
CONDA_NAME_FOR_PIP = {"tensorflow": "tensorflow", "pillow": "pillow", "pyyaml": "pyyaml"}
CONDA_ONLY = {"python", "pip"}


def split_requirement(requirement: str) -> tuple[str, str]:
    """'numpy>=1.26' -> ('numpy', '>=1.26'); extras are dropped; names normalised (PEP 503)."""
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, match.group(3).replace(" ", "")


def pip_runtime() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pairs = (split_requirement(r) for r in project["dependencies"])
    return {CONDA_NAME_FOR_PIP.get(name, name): spec for name, spec in pairs}


def conda_runtime() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    pairs = (split_requirement(d) for d in environment["dependencies"] if isinstance(d, str))
    return {name: spec for name, spec in pairs if name not in CONDA_ONLY}


def test_same_packages_and_versions_in_both_environments():
    assert conda_runtime() == pip_runtime()


def test_conda_environment_pins_python_311_and_installs_the_project():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert "-e .[dev]" in pip_section


def test_pyproject_requires_python_311():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert project["scripts"]["thesis"] == "thesis_lib.cli:main"


def test_reading_a_notebook_builds_no_iri_grammars():
    # Every kernel and grid job imports nbformat; with thesis_lib imported first, jsonschema
    # skips the lark grammars of rfc3987-syntax (a second of CPU per process) and a notebook
    # still reads and validates.
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "03_train.ipynb"
    code = f"""
import sys
import thesis_lib, nbformat
nbformat.validate(nbformat.read({str(notebook)!r}, as_version=4))
print("lark" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False\n"
