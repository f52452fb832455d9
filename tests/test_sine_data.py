"""Sine data, baselines and closed-loop forecasting against direct numpy constructions."""
import sys
import types

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn.tasks.sine import baselines

from jaxrnn.tasks.sine import forecast
from jaxrnn.data import real, sine

RTOL = 1e-12


def test_sine_series_is_linspace_sine():
    for n, stop in ((200, 199.0), (1000, 100.0)):
        values, clean = sine.make_series("sine", n, stop)
        np.testing.assert_allclose(values[:, 0], np.sin(np.linspace(0, stop, n)), rtol=RTOL,
                                   atol=1e-12)
        np.testing.assert_array_equal(values, clean)


def test_vidhya_windows_and_split():
    values, _ = sine.make_series("sine", 200, 199.0)
    X, Y = sine.make_windows(values, 50)
    assert X.shape == (150, 50, 1) and Y.shape == (150, 1)
    s = np.sin(np.arange(200.0))
    for i in (0, 77, 149):
        np.testing.assert_allclose(X[i, :, 0], s[i:i + 50], atol=1e-12)
        np.testing.assert_allclose(Y[i, 0], s[i + 50], atol=1e-12)
    sp = sine.split(X, Y, 2 / 3)
    assert (len(sp.x_train), len(sp.x_test)) == (100, 50)
    np.testing.assert_array_equal(sp.x_test[0], X[100])


def test_vlasov_split_sizes():
    values, _ = sine.make_series("sine", 1000, 100.0)
    X, Y = sine.make_windows(values, 10)
    sp = sine.split(X, Y, 0.8)
    assert X.shape == (990, 10, 1)
    assert (len(sp.x_train), len(sp.x_test)) == (792, 198)


def test_variants_formulas_and_extension():
    x = np.arange(130) * (50.0 / 99)
    two, _ = sine.make_series("two_freq", 100, 50.0, n_extra=30)
    np.testing.assert_allclose(two[:, 0], np.sin(x) + 0.5 * np.sin(np.sqrt(2) * x), atol=1e-12)
    sc, _ = sine.make_series("sincos", 100, 50.0, n_extra=30)
    np.testing.assert_allclose(sc, np.stack([np.sin(x), np.cos(x)], 1), atol=1e-12)
    am, _ = sine.make_series("am_fm", 100, 50.0)
    want = (1 + 0.6 * np.sin(0.13 * x[:100])) * np.sin(x[:100] + 5 * np.sin(0.11 * x[:100]))
    np.testing.assert_allclose(am[:, 0], want, atol=1e-12)


def test_noise_is_seeded_and_keeps_the_clean_series():
    a, clean = sine.make_series("noisy", 4000, 400.0, noise=0.3, seed=5)
    b, _ = sine.make_series("noisy", 4000, 400.0, noise=0.3, seed=5)
    np.testing.assert_array_equal(a, b)
    assert abs(np.std(a - clean) - 0.3) < 0.02
    ext, _ = sine.make_series("noisy", 4000, 400.0, noise=0.3, seed=5, n_extra=10)
    np.testing.assert_array_equal(ext[:4000], a)  # extending keeps the observed part


def test_position_encoding_is_a_per_step_input_weight(key):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 6, 1))
    E = sine.encode_positions(X)
    assert E.shape == (3, 6, 6)
    U = rng.normal(size=(4, 6))
    for n in range(3):
        for t in range(6):
            np.testing.assert_allclose(U @ E[n, t], X[n, t, 0] * U[:, t], rtol=RTOL)
    np.testing.assert_allclose(np.asarray(sine.encode_positions(jnp.asarray(X))), E)


def test_normalise_uses_the_fit_part_only():
    s = np.concatenate([np.arange(10.0), 1000 + np.arange(5.0)])[:, None]
    z, mean, std = sine.normalise(s, 10)
    np.testing.assert_allclose(mean, [4.5])
    np.testing.assert_allclose(std, [np.std(np.arange(10.0))])
    np.testing.assert_allclose(z[:, 0], (s[:, 0] - 4.5) / np.std(np.arange(10.0)))


@pytest.mark.parametrize("call, match", [
    (lambda: sine.make_series("square", 100, 10.0), "unknown series"),
    (lambda: sine.make_series("sine", 2, 10.0), "n_points"),
    (lambda: sine.make_series("noisy", 100, 10.0), "noise"),
    (lambda: sine.make_series("sine", 100, -1.0), "x_stop"),
    (lambda: sine.make_windows(np.zeros((10, 1)), 10), "window T"),
    (lambda: sine.make_windows(np.zeros(10), 3), r"\(n, C\)"),
    (lambda: sine.split(np.zeros((10, 3, 1)), np.zeros((10, 1)), 1.0), "train_fraction"),
    (lambda: sine.encode_positions(np.zeros((4, 5, 2))), "one input channel"),
    (lambda: sine.normalise(np.ones((10, 1)), 5), "constant"),
])
def test_bad_inputs_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("kind, noise, stop, exact", [
    ("sine", 0.0, 150.0, True), ("two_freq", 0.0, 150.0, True), ("sincos", 0.0, 150.0, True),
    ("two_freq", 0.0, 1499.0, True), ("noisy", 0.1, 150.0, False), ("am_fm", 0.0, 1499.0, False)])
def test_linear_ar_is_exact_exactly_on_sums_of_sinusoids(kind, noise, stop, exact):
    values, _ = sine.make_series(kind, 1500, stop, noise=noise, seed=1)
    sp = sine.split(*sine.make_windows(values, 10), 0.8)
    pred = baselines.make_baselines(sp.x_train, sp.y_train)["linear_ar"](sp.x_test)
    err = baselines.rmse(pred, sp.y_test)
    assert (err < 1e-8) if exact else (err > 1e-3)


def test_simple_baselines_on_a_constructed_series():
    s = (np.arange(40.0) % 7)[:, None]  # period 7
    X, Y = sine.make_windows(s, 9)
    np.testing.assert_array_equal(baselines.predict_last_value(X), s[8:-1])
    np.testing.assert_array_equal(baselines.predict_zero(X), np.zeros_like(Y))
    np.testing.assert_array_equal(baselines.seasonal_naive(7, 9)(X), Y)  # exact on period 7
    with pytest.raises(ValueError, match="season"):
        baselines.seasonal_naive(10, 9)
    with pytest.raises(ValueError, match="shape"):
        baselines.rmse(np.zeros(3), np.zeros(4))


def test_closed_loop_matches_a_python_loop():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4 * 2 + 1, 2)) * 0.3
    predict = baselines.linear_ar(w)
    windows = rng.normal(size=(3, 4, 2))
    got = np.asarray(forecast.closed_loop(predict, jnp.asarray(windows), 12))
    np.testing.assert_allclose(forecast.closed_loop(predict, windows, 12), got, rtol=1e-12)
    for s in range(3):
        win = windows[s].copy()
        for j in range(12):
            nxt = win.reshape(-1) @ w[:-1] + w[-1]
            np.testing.assert_allclose(got[s, j], nxt, rtol=1e-10, atol=1e-12)
            win = np.concatenate([win[1:], nxt[None]])


def test_linear_ar_closed_loop_stays_exact_on_a_sine():
    values, _ = sine.make_series("sine", 400, 40.0, n_extra=250)
    sp = sine.split(*sine.make_windows(values[:400], 10), 0.8)
    predict = baselines.make_baselines(sp.x_train, sp.y_train)["linear_ar"]
    starts = forecast.start_indices(len(sp.x_train), 389, 5)
    win, truth = forecast.forecast_windows(values, starts, 10, 200)
    rmse = forecast.rmse_by_horizon(forecast.closed_loop(predict, jnp.asarray(win), 200), truth)
    assert rmse.shape == (200,) and rmse.max() < 1e-6
    last = forecast.rmse_by_horizon(
        forecast.closed_loop(baselines.predict_last_value, jnp.asarray(win), 200), truth)
    assert last[50] > 0.1


def test_forecast_helpers_refuse_impossible_requests():
    with pytest.raises(ValueError, match="no start window"):
        forecast.start_indices(10, 5, 3)
    with pytest.raises(ValueError, match="needs"):
        forecast.forecast_windows(np.zeros((20, 1)), [5], 10, 10)
    with pytest.raises(ValueError, match="steps"):
        forecast.closed_loop(baselines.predict_zero, jnp.zeros((1, 3, 1)), 0)


def test_real_series_missing_extra_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels.datasets", None)
    monkeypatch.setitem(sys.modules, "statsmodels", None)
    with pytest.raises(real.MissingExtraError, match=r'pip install "jaxrnn\[data\]"'):
        real.load("sunspots")
    with pytest.raises(ValueError, match="unknown real series"):
        real.load("rainfall")


class _Column:
    """Stands in for the pandas Series the loader reads: records the calls it gets."""

    def __init__(self, values, calls):
        self.values, self.calls = np.asarray(values), calls

    def to_numpy(self, dtype=None):
        self.calls.append(("to_numpy", dtype))
        return self.values.astype(dtype)

    def resample(self, rule):
        self.calls.append(("resample", rule))
        return self

    def mean(self):
        self.calls.append(("mean",))
        return self

    def interpolate(self, method):
        self.calls.append(("interpolate", method))
        return _Column(self.values[::-1], self.calls)  # reversed: the loader must use this one


def _fake_statsmodels(monkeypatch, sunspots, co2):
    calls = []
    table = {"sunspots": ("SUNACTIVITY", sunspots), "co2": ("co2", co2)}
    datasets = types.ModuleType("statsmodels.datasets")
    for name, (column, values) in table.items():
        frame = types.SimpleNamespace(data={column: _Column(values, calls)})
        setattr(datasets, name, types.SimpleNamespace(load_pandas=lambda frame=frame: frame))
    package = types.ModuleType("statsmodels")
    package.datasets = datasets
    monkeypatch.setitem(sys.modules, "statsmodels", package)
    monkeypatch.setitem(sys.modules, "statsmodels.datasets", datasets)
    return calls


def test_real_series_loader_code_path_on_a_made_series(monkeypatch):
    calls = _fake_statsmodels(monkeypatch, [5, 11.5, 16], [315.0, 316.25, 317.5, 318.0])
    s = real.load("sunspots")
    assert s.dtype == np.float64 and s.shape == (3, 1)
    np.testing.assert_array_equal(s[:, 0], [5.0, 11.5, 16.0])
    assert calls == [("to_numpy", np.float64)]
    co2 = real.load("co2")
    assert co2.dtype == np.float64 and co2.shape == (4, 1)
    np.testing.assert_array_equal(co2[:, 0], [318.0, 317.5, 316.25, 315.0])
    assert calls[1:] == [("resample", "MS"), ("mean",), ("interpolate", "linear"),
                         ("to_numpy", np.float64)]
    _fake_statsmodels(monkeypatch, [1.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="series 'sunspots' has missing values after loading"):
        real.load("sunspots")


def test_real_series_load_when_installed():
    pytest.importorskip("statsmodels")
    s = real.load("sunspots")
    assert s.shape == (309, 1) and np.all(np.isfinite(s))
    co2 = real.load("co2")
    assert co2.shape[1] == 1 and np.all(np.isfinite(co2)) and 300 < co2.mean() < 400
