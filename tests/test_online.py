"""jaxrnn.online: exact RTRL for every cell vs the manual BPTT, every vanilla estimator vs the
numpy reference (tests/reference_online.py), SnAp's structure, and the unbiasedness rates."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import reference_online as ref
from jaxrnn.grad.gradcheck import make_problem, manual_grads
from jaxrnn.online import grad_eprop, resolve, grad_rtrl_jac, grad_snap, grad_tbptt
from jaxrnn.online.local import grad_local_from_feedback
from jaxrnn.online.rtrl import RTRL_MAX_ENTRIES
from jaxrnn.online.uoro import grad_kfrtrl_from_noise, grad_uoro_from_noise

RTOL = 1e-10


def _rel(a, b):
    a, b = (np.asarray(ravel_pytree(t)[0]) for t in (a, b))
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("cell,loss,window,anchor", [  # rnn: test_snap1_is_exact_rtrl_...
    ("lstm", "xent_mean", 3, "end"),
    ("gru", "last", 3, "start"), ("gru_cho", "xent_sum", None, "start")])
def test_rtrl_jac_matches_manual_bptt(cell, loss, window, anchor):
    p = make_problem(cell, loss=loss, window=window, anchor=anchor, hidden=3, steps=7, batch=2,
                     random_carry=True)
    want = manual_grads(*p[:6], window=window, anchor=anchor)
    assert _rel(grad_rtrl_jac(*p[:6], window=window, anchor=anchor), want) <= RTOL


def test_rtrl_jac_refuses_past_its_size_limit():
    p = make_problem("lstm", hidden=300, steps=2, batch=0, inputs=1, outputs=1)
    with pytest.raises(ValueError, match="use a smaller --hidden"):
        jax.eval_shape(lambda: grad_rtrl_jac(*p[:6]))
    assert 4 * (300 * 300 + 300 + 300) * 600 > RTRL_MAX_ENTRIES


@pytest.fixture(scope="module")
def vanilla():
    """One unbatched tanh-RNN problem (all_steps loss) and its numpy params."""
    p = make_problem("rnn", hidden=4, steps=7, batch=0, inputs=2, outputs=2, seed=3)
    np_params = {k: np.asarray(v) for k, v in {**p.params["cell"], **p.params["readout"]}.items()}
    return p, np_params, np.asarray(p.xs), np.asarray(p.targets)


def _check(got, p, want_cell, np_params, xs, y):
    assert _rel(got["cell"], want_cell) <= RTOL
    assert _rel(got["readout"], ref.readout_grads(np_params, xs, y)) <= RTOL


def test_rtrl_and_snap1_match_the_numpy_reference(vanilla):
    p, q, xs, y = vanilla
    _check(grad_rtrl_jac(*p[:6]), p, ref.rtrl(q, xs, y), q, xs, y)
    _check(grad_snap(*p[:6], n=1), p, ref.snap1(q, xs, y), q, xs, y)
    assert _rel(ref.snap1(q, xs, y), ref.rtrl(q, xs, y)) > 1e-2  # the reference can tell them apart


def test_uoro_and_kfrtrl_match_the_numpy_reference_on_the_same_draws(vanilla):
    p, q, xs, y = vanilla
    rng = np.random.default_rng(0)
    nus = rng.choice([-1.0, 1.0], size=(7, 4))
    signs = rng.choice([-1.0, 1.0], size=(7, 2))
    _check(grad_uoro_from_noise(*p[:6], noise=jnp.asarray(nus[None])), p,
           ref.uoro(q, xs, y, nus), q, xs, y)
    _check(grad_kfrtrl_from_noise(*p[:6], noise=jnp.asarray(signs[None])), p,
           ref.kfrtrl(q, xs, y, signs), q, xs, y)


def test_rflo_with_leak_and_random_feedback_matches_murrays_rule(vanilla):
    p, q, xs, y = vanilla
    B = np.random.default_rng(1).normal(size=(4, 2))
    got = grad_local_from_feedback(*p[:6], feedback=jnp.asarray(B.T), leak=0.3)
    _check(got, p, ref.rflo(q, xs, y, B, 0.3), q, xs, y)


def test_rflo_with_true_feedback_and_no_leak_is_tbptt1(vanilla):
    """Murray's rule with B = W_hyᵀ and α = 1 is the one-step gradient Σ_t c_t φ'(a_t) â_tᵀ."""
    p, q, xs, y = vanilla
    _check(grad_eprop(*p[:6]), p, ref.rflo(q, xs, y, q["W_hy"].T, 1.0), q, xs, y)
    assert _rel(grad_eprop(*p[:6]), grad_tbptt(*p[:6], k=1)) <= RTOL


def _ring(p, H):
    """p with W_hh zero except i -> i and i -> i+1 (mod H): unit j reaches j + n in n steps."""
    mask = jnp.eye(H) + jnp.roll(jnp.eye(H), 1, axis=0)
    cell = dict(p.params["cell"], W_hh=p.params["cell"]["W_hh"] * mask)
    return p._replace(params=dict(p.params, cell=cell))


def test_snap_n_with_n_at_least_the_steps_equals_rtrl_and_less_does_not(vanilla):
    p = _ring(vanilla[0], 4)  # T = 7 steps, H = 4 units
    exact = grad_rtrl_jac(*p[:6])
    assert _rel(grad_snap(*p[:6], n=7), exact) <= RTOL  # n = T
    assert _rel(grad_snap(*p[:6], n=2), exact) > 1e-3  # the ring needs 3 steps to close


def test_snap1_is_exact_rtrl_when_the_recurrence_is_diagonal(vanilla):
    """SnAp-1 keeps J's diagonal only: with a diagonal W_hh nothing is dropped (and RTRL of the
    dense net matches the manual BPTT)."""
    p, *_ = vanilla
    assert _rel(grad_rtrl_jac(*p[:6]), manual_grads(*p[:6])) <= RTOL
    cell = dict(p.params["cell"], W_hh=jnp.diag(jnp.diag(p.params["cell"]["W_hh"])))
    p = p._replace(params=dict(p.params, cell=cell))
    assert _rel(grad_snap(*p[:6], n=1), manual_grads(*p[:6])) <= RTOL


def _error_of_mean_slope(samples, exact, sizes):
    """Log-log slope of the RMS (over disjoint groups) of |mean of N samples - exact| vs N."""
    errs = [np.sqrt(np.mean(np.sum((samples.reshape(-1, n, samples.shape[-1]).mean(1)
                                    - exact) ** 2, -1))) for n in sizes]
    return np.polyfit(np.log(sizes), np.log(errs), 1)[0]


SIZES = (4, 16, 64, 256, 1024)
N_DRAWS = 8192
SLOPE_BAND = (-0.56, -0.44)  # -1/2 ± 0.06: the fit's scatter over seeds was < 0.03


@pytest.fixture(scope="module")
def draws():
    p = make_problem("rnn", hidden=3, steps=6, batch=0, inputs=2, seed=7)
    exact = np.asarray(ravel_pytree(manual_grads(*p[:6])["cell"])[0])
    keys = jax.random.split(jax.random.PRNGKey(0), N_DRAWS)
    out = {}
    for name in ("uoro", "kfrtrl"):
        f = jax.jit(jax.vmap(lambda k: ravel_pytree(resolve(name)[0](*p[:6], key=k)["cell"])[0]))
        out[name] = np.asarray(f(keys))
    return out, exact


@pytest.mark.parametrize("name", ["uoro", "kfrtrl"])
def test_stochastic_estimators_are_unbiased_at_the_root_n_rate(draws, name):
    samples, exact = draws[0][name], draws[1]
    slope = _error_of_mean_slope(samples, exact, SIZES)
    print(f"{name}: log-log slope of the error of the mean vs N = {slope:.3f}")
    assert SLOPE_BAND[0] <= slope <= SLOPE_BAND[1]


def test_the_rate_test_catches_a_bias_of_a_few_percent(draws):
    samples, exact = draws[0]["uoro"], draws[1]
    spread = np.sqrt(np.mean(np.sum((samples - exact) ** 2, -1)))
    biased = samples + 0.1 * spread / np.sqrt(exact.size)  # |bias| = spread / 10
    assert _error_of_mean_slope(biased, exact, SIZES) > SLOPE_BAND[1]


def test_gradcheck_cli_prints_the_estimator_columns(vanilla, capsys):
    from jaxrnn.cli.main import main
    args = ["gradcheck", "--hidden", "4", "--steps", "7", "--batch", "0", "--inputs", "2",
            "--outputs", "2", "--seed", "3", "--samples", "3"]
    assert main(args + ["--methods", "rtrl_jac,eprop,rflo"]) == 0
    out = capsys.readouterr().out
    assert "cosine" in out and "bias" in out
    rows = {w[0]: w for w in map(str.split, out.splitlines()) if len(w) == 9 and w[1].isdigit()}
    assert rows["rflo"][1] == "3" and rows["eprop"][1] == "1"  # N draws
    assert float(rows["rtrl_jac"][2]) == pytest.approx(1.0, abs=1e-12)
    assert main(args + ["--methods", "rtrl_jac,uoor"]) == 2
    assert "unknown method 'uoor'" in capsys.readouterr().err
