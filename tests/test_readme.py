"""The README's promises: it opens with the two commands, and its example runs as shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_opens_with_make_serve_and_make_test() -> None:
    lines = README.read_text().splitlines()

    assert lines[0].startswith("# ")
    block = lines[lines.index("```sh") + 1 : lines.index("```")]
    assert lines.index("```sh") == 2
    assert [line.split("#")[0].strip() for line in block] == ["make serve", "make test"]


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=False
    )


def test_readme_example_prints_what_its_comments_say(tmp_path: Path) -> None:
    runtime, *_ = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)

    done = _run(runtime, tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1", "0", "Exit(pid=<0.2.0>, reason='shutdown')"]


def test_every_other_readme_example_runs(tmp_path: Path) -> None:
    _, *others = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert others  # the channels example at least

    for code in others:
        done = _run(code, tmp_path)
        assert done.returncode == 0, done.stderr
