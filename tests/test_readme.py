"""Every ```python block of README.md runs as written, on the shipped model, so the examples stay true."""
from __future__ import annotations

import re

import pytest

from pelsvae_core import paths

README = paths.REPO_ROOT / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.M | re.S)


def test_the_readme_has_python_examples():
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # as a reader would run it: from anywhere, writing nowhere shared
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
