"""The README's commands and code stay true: CI runs the test command it shows, its example runs."""
import re
from pathlib import Path

import numpy as np
import pytest

from reference_bptt import reference_bptt

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
    params, xs = namespace["params"], namespace["xs"]
    _, ref = reference_bptt("lstm", "tanh", params, xs, xs[-1], "last", window=5, anchor="end")
    got = {**namespace["grads"]["cell"], **namespace["grads"]["readout"]}
    want = {**ref["cell"], **ref["readout"]}
    assert got.keys() == want.keys()
    for name, g in got.items():
        # float32 params and inputs against float64: measured max error 1e-7 of the leaf's
        # largest entry (float32 rounding over a 5-step window); 1e-6 of it allowed
        scale = np.max(np.abs(want[name]))
        np.testing.assert_allclose(np.asarray(g, np.float64), want[name], rtol=1e-5,
                                   atol=1e-6 * scale, err_msg=name)
