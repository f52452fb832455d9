"""The command's help: fast (no jax import), --version, every field with its comment, the
presets as a table; exit statuses: 2 for jaxrnn's own input checks, a traceback for bugs."""
import dataclasses
import subprocess
import sys

import jax
import pytest

from jaxrnn import __version__
from jaxrnn.cli import fields
from jaxrnn.cli import main as cli
from jaxrnn.io import config
from jaxrnn.tasks import demo
from jaxrnn.tasks.sine import main as sine

PROBE = ("import sys\nfrom jaxrnn.cli.main import main\ntry:\n    main({argv})\n"
         "except SystemExit:\n    pass\nprint('JAX' if 'jax' in sys.modules else 'NOJAX')")


def _run(argv) -> str:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                          text=True, timeout=120)
    return proc.stdout


def test_help_imports_no_jax_and_shows_no_markup():
    out = _run(["--help"])
    assert out.rstrip().endswith("NOJAX"), out
    assert "``" not in out and "eval" in out and "Exit status" in out


def test_version():
    assert _run(["--version"]).startswith(f"jaxrnn {__version__} ")


@dataclasses.dataclass(frozen=True)
class Toy(config.Config):
    RANGES = {"hidden": ">=1"}
    hidden: int = 4  # units per layer
    tag: str = "a # not a comment"
    cell: str = "rnn"  # the cell
    CHOICES = {"cell": ("rnn", "lstm")}


def test_fields_come_from_the_dataclass_comments():
    assert fields.field_comments(Toy) == {"hidden": "units per layer", "cell": "the cell"}
    rows = {r["name"]: r for r in fields.field_rows(Toy)}
    assert rows["hidden"]["allowed"] == ">=1" and rows["cell"]["allowed"] == "one of rnn, lstm"
    assert rows["tag"]["default"] == "'a # not a comment'" and rows["tag"]["help"] == ""


def test_help_fields_lists_every_sine_field(capsys):
    assert cli.main(["sine", "--help-fields"]) == 0
    out = capsys.readouterr().out
    for f in dataclasses.fields(sine.Config):
        assert f"--{f.name}=" in out, f.name
    assert "--bptt_window=INT  (default 5; >=0)" in out
    assert "truncated BPTT window anchored at the last step" in out


def test_list_presets_is_a_table_of_changed_fields():
    table = fields.format_presets(sine.PRESETS, sine.Config, width=1000).splitlines()
    header = table[0].split()
    assert header[0] == "preset" and "epochs" in header and "x_stop" in header
    assert "forecast_starts" not in header  # no preset changes it
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert set(sine.PRESETS) | {"(default)"} == set(rows)
    col = header.index("optimizer")
    for name, cfg in sine.PRESETS.items():
        want = "." if cfg.optimizer == sine.Config().optimizer else cfg.optimizer
        assert rows[name][col] == want, name


def test_list_presets_too_wide_for_the_terminal_lists_each_presets_changes():
    text = fields.format_presets(sine.PRESETS, sine.Config, width=90)
    assert max(map(len, text.splitlines())) <= 90
    assert text.startswith("vidhya: the defaults\nvidhya-standard: encoding=value\n")
    assert "vlasov: series" not in text and "optimizer=adam" in text


def test_a_library_error_keeps_its_traceback(monkeypatch, tmp_path):
    """A jax tracer error (a TypeError raised inside jax) is a bug, not bad usage."""
    def broken(cfg, out, **kwargs):
        return jax.jit(lambda x: int(x))(1.0)

    monkeypatch.setattr(demo, "main", broken)
    with pytest.raises(jax.errors.ConcretizationTypeError):
        cli.main(["demo", "--out", str(tmp_path / "x")])


def test_a_tracer_error_in_jaxrnn_code_keeps_its_traceback(monkeypatch, tmp_path):
    """Under jit, JAX drops its own frames, so the innermost frame left is jaxrnn's (here
    ``check_range`` comparing a tracer): still a bug, not bad usage."""
    def broken(cfg, out, **kwargs):
        return jax.jit(lambda x: config.check_range("x", x, ">=1"))(2.0)

    monkeypatch.setattr(demo, "main", broken)
    with pytest.raises(jax.errors.TracerBoolConversionError):
        cli.main(["demo", "--out", str(tmp_path / "x")])


def test_jaxrnns_own_check_exits_2(monkeypatch, tmp_path, capsys):
    def refuses(cfg, out, **kwargs):
        config.check_range("seq_len", 1, ">=2")  # raised inside jaxrnn: an input check

    monkeypatch.setattr(demo, "main", refuses)
    assert cli.main(["demo", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == ("jaxrnn demo: error: seq_len must be >= 2; got 1 (set "
                                       "--seq_len=VALUE)\n")
