"""Installing an out-of-tree plugin of plugins/ with pip, as a user would, without touching the
test environment: from a copy of its folder into a private --target directory."""

import shutil
import subprocess
import sys

from cli_helpers import ROOT

PLUGINS = ROOT / "plugins"


def pip_install_copy(name, tmp_path):
    """pip-install plugins/<name> into ``tmp_path/site`` (--no-deps: hpcmix runs from the checkout);
    return that directory, to be put on PYTHONPATH."""
    source = tmp_path / "src"
    shutil.copytree(PLUGINS / name, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-input", "-q", "--target",
                          str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return target
