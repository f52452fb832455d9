"""What a user installs: the study specs ship in the package, every import is declared, the
version lives in one place, the licence is there."""
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jaxrnn.sweep.spec import load_spec
from jaxrnn.sweep.studies import SPECS, STUDIES, study_path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = (ROOT / "pyproject.toml").read_text()
# a distribution's import name where it differs from its name in pyproject.toml
IMPORT_NAMES = {}


def _declared(section: str) -> set:
    """Import names of the requirements in a pyproject list (``dependencies = [...]``)."""
    body = re.search(section + r"\s*=\s*\[(.*?)\]", PYPROJECT, flags=re.S).group(1)
    names = re.findall(r'"([A-Za-z0-9_.-]+)', body)
    return {IMPORT_NAMES.get(n, n.replace("-", "_")) for n in names}


def _imports(path: Path) -> set:
    mods = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    return mods


def test_every_third_party_import_of_the_package_is_declared():
    runtime = _declared("dependencies")
    extras = _declared("data")  # statsmodels: only jaxrnn.data.real, which says so
    found = {}
    for path in (ROOT / "jaxrnn").rglob("*.py"):
        stdlib = set(sys.stdlib_module_names) | {"tomllib"}  # tomllib: 3.11+, tomli before
        for mod in _imports(path) - stdlib - {"jaxrnn", "__future__"}:
            found.setdefault(mod, []).append(str(path.relative_to(ROOT)))
    undeclared = {m: p for m, p in found.items() if m not in runtime | extras}
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"
    assert set(found.get("statsmodels", [])) <= {"jaxrnn/data/real.py"}


def test_version_lives_in_one_place():
    assert not re.search(r'^version\s*=\s*"', PYPROJECT, flags=re.M)  # no literal
    assert 'version = {attr = "jaxrnn.__version__"}' in PYPROJECT
    assert re.search(r'^__version__ = "\d+\.\d+\.\d+"$', (ROOT / "jaxrnn/__init__.py")
                     .read_text(), flags=re.M)


def test_licence_file_matches_the_declared_licence():
    assert 'license = {text = "MIT"}' in PYPROJECT
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_shipped_studies_are_json_inside_the_package():
    """JSON, not TOML: Python 3.10 (no tomllib) reads them; inside the package: they ship."""
    assert sorted(p.stem for p in SPECS.glob("*")) == sorted(STUDIES)
    for name in STUDIES:
        assert study_path(name).suffix == ".json"
        assert SPECS in study_path(name).parents
    assert '"jaxrnn.sweep" = ["specs/*.json"]' in PYPROJECT


def test_studies_resolve_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert [load_spec(study_path(n)).name for n in STUDIES] == list(STUDIES)


def _setuptools_reads_pyproject() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 61


@pytest.mark.skipif(not _setuptools_reads_pyproject(), reason="needs setuptools >= 61")
def test_built_package_holds_the_specs_and_runs_from_elsewhere(tmp_path):
    """setuptools' build_py lays out exactly the files a wheel's purelib gets (packages and
    package data from pyproject.toml); the command then runs from an unrelated directory
    without the checkout on its path."""
    src, lib, elsewhere = tmp_path / "src", tmp_path / "lib", tmp_path / "elsewhere"
    shutil.copytree(ROOT / "jaxrnn", src / "jaxrnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    build = [sys.executable, "-c", "import sys, setuptools; sys.argv = ['setup.py', '-q', "
             f"'build_py', '--build-lib', {str(lib)!r}]; setuptools.setup()"]
    subprocess.run(build, cwd=src, check=True, capture_output=True)
    elsewhere.mkdir()
    probe = ("import jaxrnn, sys; from jaxrnn.sweep.studies import STUDIES, study_path;"
             "from jaxrnn.sweep.spec import load_spec;"
             "print(jaxrnn.__file__); print(*[load_spec(study_path(n)).name for n in STUDIES])")
    env = {"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    assert out[0].startswith(str(lib))
    assert out[1].split() == list(STUDIES)


def test_lazy_exports_are_the_functions_even_after_their_module_is_imported():
    """``import jaxrnn`` imports no jax; ``jaxrnn.unroll`` is the function, also once the
    submodule ``jaxrnn.unroll`` has been imported (which binds the module on the package)."""
    probe = ("import sys, types, jaxrnn; assert 'jax' not in sys.modules;"
             "import jaxrnn.unroll, jaxrnn.cells; from jaxrnn import unroll, get_cell;"
             "assert not isinstance(unroll, types.ModuleType) and callable(get_cell);"
             "assert set(jaxrnn.__all__) <= set(dir(jaxrnn)); print('ok')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
