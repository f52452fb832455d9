"""The README's commands and code stay true: CI runs the test command it shows, its example runs."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_starts_with_the_two_setup_commands():
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert blocks[0].strip().startswith("pip install . && jaxrnn ")
    assert blocks[1].strip() == 'pip install ".[test]" && python -m pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "<!-- test-command -->" in text


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    if not blocks:
        pytest.fail("README has no python example")
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["hs"].shape == (50, 8, 32)
    assert set(namespace["grads"]) == {"cell", "readout"}
