"""What a run directory records: preset, overrides, argv, git, XLA_FLAGS, device count; labels
that tell variants apart; files readable by the group (the umask's mode); --overwrite."""
import json
import os
import stat

import pytest

from jaxrnn.cli import main as cli
from jaxrnn.io import provenance, runs
from jaxrnn.tasks.demo import Config as DemoConfig

DEMO = ["--steps=5", "--hidden=4", "--n_points=60"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("records") / "demo"
    assert cli.main(["demo", "--out", str(out), *DEMO]) == 0
    return out


def test_config_json_records_where_the_run_came_from(demo_run):
    saved = json.loads((demo_run / "config.json").read_text())
    assert saved["preset"] == "demo"
    assert saved["overrides"] == {"steps": "5", "hidden": "4", "n_points": "60"}
    assert saved["argv"] == ["jaxrnn", "demo", "--out", str(demo_run), *DEMO]
    assert saved["environment"]["XLA_FLAGS"] == os.environ.get("XLA_FLAGS")
    assert saved["versions"]["device_count"] >= 1
    git = provenance.git_commit()
    assert saved["git"] == git  # None outside a checkout
    if git is not None:
        assert len(git["commit"]) == 40


def test_existing_run_offers_overwrite_and_it_works(demo_run, capsys):
    assert cli.main(["demo", "--out", str(demo_run), *DEMO]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "--resume" not in err
    assert cli.main(["demo", "--out", str(demo_run), "--overwrite", *DEMO]) == 0
    assert "--overwrite" in json.loads((demo_run / "config.json").read_text())["argv"]


def test_labels_name_preset_and_overrides():
    origin = provenance.record("vlasov", {"epochs": 500, "clip": "global_norm"})
    assert provenance.label(origin, "x") == "vlasov (epochs=500, clip=global_norm)"
    assert provenance.label(provenance.record("vlasov"), "x") == "vlasov"
    assert provenance.label(None, "sine series, rnn") == "sine series, rnn"


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_run_files_get_the_umasks_mode(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        runs.write_json(tmp_path / "a.json", {"x": 1})
        runs.make_run_dir(tmp_path / "run", DemoConfig())
    finally:
        os.umask(old)
    for path in (tmp_path / "a.json", tmp_path / "run" / "config.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
