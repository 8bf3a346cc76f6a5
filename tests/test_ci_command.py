"""The README's test command and .ci/run agree, and the command installs every extra.

.ci/run runs the block after ``<!-- test-command -->`` in a fresh venv; if the README's
command left out an extra that a test needs (scikit-learn for notebook 09 did), CI would
fail there. Here: .ci/run's own extraction (its awk line, run as is) yields the README's
command, and that command installs every optional extra of pyproject.toml, runs the
peers' install script and then the whole suite."""

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_command():
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- test-command -->", 1)[1]
    return re.search(r"```bash\n(.*?)\n```", block, re.S).group(1).strip()


def test_ci_runs_the_readmes_command():
    awk = next(line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("cmd=$(awk"))
    script = awk[len("cmd=$("):-1]
    got = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert got.strip() == _readme_command()


def test_the_readmes_command_installs_every_extra_and_runs_the_suite():
    cmd = _readme_command()
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    m = re.search(r'pip install -e "\.\[([^\]]*)\]"', cmd)
    assert m, cmd
    assert set(m.group(1).split(",")) == extras
    assert "scripts/install_peers.sh" in cmd and cmd.endswith("python -m pytest -q -n 2")
    test_deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert any(d.startswith("pytest-xdist") for d in test_deps)      # (-n comes from pytest-xdist)


def test_the_notebook_command_installs_what_notebook_09_needs():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["notebooks"]
    assert any(d.startswith("scikit-learn") for d in deps)
    assert 'pip install -e ".[notebooks]"' in (ROOT / "README.md").read_text()
