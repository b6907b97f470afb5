"""The README's commands, run twice in a row where a new user runs them, both succeed, and the second
destroys nothing the first made (rerunning a finished command is a no-op)."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    """The runnable `geodln ...` commands of the README's "Run" section (placeholders left out)."""
    section = ROOT.joinpath("README.md").read_text().split("## Run", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("geodln")]
    commands += re.findall(r"`(geodln [^`]*)`", section)
    placeholders = ("NAME", "COMMAND", "FILE", "...")
    return [c for c in dict.fromkeys(commands) if not any(p in c for p in placeholders)]


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_readme_commands_twice_on_a_fresh_copy(tmp_path):
    commands = _readme_commands()
    assert any(c.split()[:2] == ["geodln", "catalog"] for c in commands) and len(commands) >= 3
    for folder in ("catalogs", "figures"):  # what a fresh clone holds
        shutil.copytree(ROOT / folder, tmp_path / folder)
    snapshots = []
    for attempt in range(2):
        for command in commands:
            args = shlex.split(command)[1:]
            proc = subprocess.run([sys.executable, "-m", "geodln.cli", *args], cwd=tmp_path, capture_output=True,
                                  text=True, timeout=600)
            assert proc.returncode == 0, f"run {attempt + 1} of `{command}` failed:\n{proc.stderr[-2000:]}"
        snapshots.append(_snapshot(tmp_path))
    assert snapshots[1] == snapshots[0]
