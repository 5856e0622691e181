"""environment.yml (conda, Binder) stays in step with pyproject.toml.

The workshop runs from ``make lab`` (pip, the ``lab``, ``servers``, ``asgi`` and ``browser``
extras) and from ``environment.yml`` (conda, and Binder's repo2docker). Both must install the
same things: the runtime dependencies plus the four extras, with the same version bounds, and
the kit itself (Binder does not install the repository's package unless the pip section says
``-e .``). Binder also installs the Ubuntu packages in ``apt.txt`` (nginx for lesson 07, the
libraries Chromium needs) and runs ``postBuild``, which fetches Chromium for lesson 09.

What is checked here is the files; no test can run Binder itself. Whether the Chromium that
``postBuild`` fetches starts in Binder's image is not checked: if it does not, lesson 09 says
why in one line (``streamkit.browser.unavailable_reason``) and its tests skip.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (pytest brings tomli there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("lab", "servers", "asgi", "browser")
# pip names that are spelled differently on conda-forge (none so far).
CONDA_NAMES: dict[str, str] = {}
# Installed by the pip section of environment.yml instead of conda (playwright: the same
# package the browser extra installs).
PIP_SECTION = {"playwright"}
# What Chromium needs on Ubuntu 24.04, Binder's image (playwright's list for ubuntu24.04-x64).
CHROMIUM_LIBRARIES = {
    "libasound2t64", "libatk-bridge2.0-0t64", "libatk1.0-0t64", "libatspi2.0-0t64", "libcairo2",
    "libcups2t64", "libdbus-1-3", "libdrm2", "libgbm1", "libglib2.0-0t64", "libnspr4", "libnss3",
    "libpango-1.0-0", "libx11-6", "libxcb1", "libxcomposite1", "libxdamage1", "libxext6",
    "libxfixes3", "libxkbcommon0", "libxrandr2",
}
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(.*)$")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def environment() -> tuple[list[str], list[str], list[str]]:
    """(channels, conda dependencies, pip dependencies) from environment.yml.

    The file is simple YAML (two lists and a nested ``pip:`` list); this reads exactly that
    shape and fails loudly on anything else, rather than depending on a YAML library.
    """
    channels: list[str] = []
    conda: list[str] = []
    pip: list[str] = []
    section = None
    for raw in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw.startswith(" "):
            key = line.split(":", 1)[0]
            section = key if key in ("channels", "dependencies") else None
            continue
        item = line.strip()
        assert item.startswith("- "), f"unexpected line in environment.yml: {raw!r}"
        value = item[2:].strip()
        if section == "channels":
            channels.append(value)
        elif section == "dependencies":
            if value == "pip:":
                section = "pip"
            else:
                conda.append(value)
        elif section == "pip":
            pip.append(value)
    return channels, conda, pip


def parse(requirement: str) -> tuple[str, str]:
    """``"werkzeug>=3.0"`` -> ``("werkzeug", ">=3.0")``, names lower-cased, spaces removed."""
    found = REQUIREMENT.match(requirement.strip())
    assert found, f"cannot read the requirement {requirement!r}"
    return found.group(1).lower().replace("_", "-"), found.group(2).replace(" ", "")


def expected_conda() -> dict[str, str]:
    project = pyproject()["project"]
    wanted = [*project["dependencies"]]
    for extra in EXTRAS:
        wanted += project["optional-dependencies"][extra]
    result: dict[str, str] = {}
    for requirement in wanted:
        name, spec = parse(requirement)
        result[CONDA_NAMES.get(name, name)] = spec
    return result


def test_conda_forge_is_the_channel() -> None:
    channels, _, _ = environment()
    assert channels == ["conda-forge"]


def test_every_dependency_and_extra_is_in_environment_yml_with_the_same_bounds() -> None:
    _, conda, pip = environment()
    listed = dict(parse(item) for item in conda)
    listed.update(parse(item) for item in pip if parse(item)[0] in PIP_SECTION)
    for name, spec in expected_conda().items():
        assert name in listed, f"environment.yml lacks {name}{spec} (from pyproject.toml)"
        assert listed[name] == spec, f"environment.yml has {name}{listed[name]}, pyproject.toml {name}{spec}"


def test_environment_yml_has_nothing_pyproject_does_not_know() -> None:
    _, conda, _ = environment()
    extra = {parse(item)[0] for item in conda} - set(expected_conda()) - {"python", "pip"}
    assert not {parse(item)[0] for item in conda} & PIP_SECTION, "playwright comes from pip, once"
    assert not extra, f"environment.yml installs {sorted(extra)}, which pyproject.toml does not list"


def test_python_version_matches_requires_python() -> None:
    _, conda, _ = environment()
    listed = dict(parse(item) for item in conda)
    assert "pip" in listed, "environment.yml needs pip, for the kit itself"
    assert listed.get("python") == pyproject()["project"]["requires-python"].replace(" ", "")


def test_binder_installs_the_kit_itself() -> None:
    _, _, pip = environment()
    assert "-e ." in pip, "the pip section of environment.yml must install the kit: - -e ."


def test_binder_installs_nginx_for_lesson_07() -> None:
    # repo2docker installs the Debian packages named in apt.txt, one per line.
    packages = [
        line.split("#", 1)[0].strip() for line in (ROOT / "apt.txt").read_text(encoding="utf-8").splitlines()
    ]
    assert "nginx" in packages, "apt.txt must list nginx: notebook 07 starts a real nginx"


def apt_packages() -> list[str]:
    return [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "apt.txt").read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    ]


def test_binder_can_run_lesson_09() -> None:
    # Ubuntu's chromium package is a stub for the snap, which cannot run in a container: the
    # browser comes from playwright in postBuild, its libraries from apt.txt.
    packages = apt_packages()
    assert not {"chromium", "chromium-browser"} & set(packages)
    missing = CHROMIUM_LIBRARIES - set(packages)
    assert not missing, f"apt.txt lacks what Chromium needs on Ubuntu 24.04: {sorted(missing)}"
    post_build = ROOT / "postBuild"
    assert post_build.is_file() and post_build.stat().st_mode & 0o111, "postBuild must be executable"
    script = post_build.read_text(encoding="utf-8")
    assert "python -m playwright install chromium" in script
    # Linked as `chromium` next to the environment's python: on PATH, where the kit looks.
    assert 'ln -sf "$chrome" "$(dirname "$(command -v python)")/chromium"' in script
    result = subprocess.run(["bash", "-n", str(post_build)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_make_lab_and_the_install_lines_have_every_extra_the_lessons_use() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lab = re.search(r"^\$\(VENV\)/\.installed-lab:.*\n\t\$\(PIP\) install --quiet -e '\.\[([a-z,]+)\]'", makefile, re.M)
    assert lab, "the Makefile's .installed-lab rule should pip install -e '.[extras]'"
    assert set(lab.group(1).split(",")) == set(EXTRAS)
    wanted = "-e '.[" + ",".join(EXTRAS) + "]'"
    for doc in ("README.md", "tutorials/instructor-guide.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        for line in re.findall(r"pip install -e '\.\[lab[a-z,]*\]'", text):
            assert line == "pip install " + wanted, f"{doc}: {line} (the lessons need {wanted})"
