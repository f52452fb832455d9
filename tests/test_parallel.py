"""``jaxrnn.parallel``: DEER / quasi-DEER / ELK against ``lax.scan`` and numpy float64 loops,
their implicit-function gradients, the linear-recurrence scans, ELK's Kalman step, refusals.

Sizes are tiny (T=10, B=2, D=3, H=3) and each (cell, method) compiles once, shared by a
module-scoped fixture. CI runs DEER on every cell and quasi-DEER and ELK on one cell each, and
the float32 and gradcheck tests on one cell; ``JAXRNN_FULL_GRID=1`` runs every cell x method and
the float32 and gradcheck tests on every cell.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reference as ref
import reference_parallel as refp
from jaxrnn import cells, unroll
from jaxrnn.grad.gradcheck import gradcheck, make_problem, skipped_methods
from jaxrnn.parallel import linear_recurrence, linear_recurrence_reverse, unroll_parallel
from jaxrnn.parallel.elk import kalman_step

T, B, D, H = 10, 2, 3, 3
CELLS = ("rnn", "lstm", "gru")
METHODS = ("deer", "quasi-deer", "elk")
FULL_GRID = bool(os.environ.get("JAXRNN_FULL_GRID"))
GRID = [(c, m) for c in CELLS for m in METHODS
        if FULL_GRID or m == "deer" or (c, m) in (("lstm", "quasi-deer"), ("gru", "elk"))]
TOL = 1e-13
# Jitted: the unjitted call dispatches op by op, which compiles many more small programs.
par = jax.jit(unroll_parallel, static_argnames=("method", "tol", "max_iters", "damping"))
scan = jax.jit(unroll)


def problem(name, dtype=jnp.float64, seed=0):
    """Random params (biases non-zero), inputs (T, B, D) and a non-zero carry0."""
    k_p, k_x, k_c = jax.random.split(jax.random.PRNGKey(seed), 3)
    cell = cells.get_cell(name)
    params = cell.init(k_p, D, H, recurrent_init="normal(0.5)", dtype=dtype)
    params = {k: v + 0.2 if k.startswith("b") else v for k, v in params.items()}
    xs = jax.random.normal(k_x, (T, B, D), dtype)
    h = 0.5 * jax.random.normal(k_c, (B, H), dtype)
    carry0 = cells.LSTMCarry(h, -h) if name == "lstm" else h
    return cell, params, xs, carry0


@pytest.fixture(scope="module")
def solved():
    """{(cell, method): (scan outputs, parallel outputs)} in float64, each compiled once."""
    out = {}
    for name, method in GRID:
        cell, params, xs, carry0 = problem(name)
        out[name, method] = (scan(cell, params, xs, carry0),
                             par(cell, params, xs, carry0, method=method, tol=TOL, max_iters=400))
    return out


@pytest.mark.parametrize("name,method", GRID)
def test_matches_scan_and_numpy_float64(solved, name, method):
    (ys_scan, carry_scan), (ys, carry, info) = solved[name, method]
    assert ys.shape == (T, B, H) and info.iterations.shape == (B,)
    np.testing.assert_allclose(ys, ys_scan, rtol=0, atol=1e-10)
    for a, b in zip(jax.tree_util.tree_leaves(carry), jax.tree_util.tree_leaves(carry_scan)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert np.all(info.residual <= TOL) and np.all(info.iterations <= 400)
    cell, params, xs, carry0 = problem(name)
    c0 = tuple(np.asarray(c) for c in carry0) if name == "lstm" else np.asarray(carry0)
    ys_np, _ = ref.unroll_batch(ref.step_fn(name), ref.to_np(params), np.asarray(xs), c0)
    np.testing.assert_allclose(ys, ys_np, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", CELLS)
def test_deer_converges_in_a_few_newton_steps_on_contracting_cells(solved, name):
    """Newton from zeros on a contracting cell: far fewer than T iterations (catches a wrong
    Jacobian, which degrades DEER to the linear, ≥ T-step convergence of a bad quasi-Newton)."""
    iterations = solved[name, "deer"][1][2].iterations
    assert np.all(iterations <= 7), iterations


@pytest.mark.parametrize("name", CELLS if FULL_GRID else ("lstm",))
def test_float32_bound(name):
    """float32 DEER and the float32 scan, each against the float64 scan of the same (float32-
    representable) problem: both within 10 ulps per step accumulated over T steps, 10 T ε."""
    cell, params, xs, carry0 = problem(name, jnp.float32)
    ys, _, info = par(cell, params, xs, carry0)
    assert ys.dtype == jnp.float32
    assert np.all(info.residual <= 100 * np.finfo(np.float32).eps)
    up = lambda tree: jax.tree_util.tree_map(lambda v: v.astype(jnp.float64), tree)
    ys_64, _ = scan(cell, up(params), up(xs), up(carry0))
    ys_32, _ = scan(cell, params, xs, carry0)
    bound = 10 * T * np.finfo(np.float32).eps
    assert float(jnp.max(jnp.abs(ys_32 - ys_64))) <= bound  # the bound is fair: the scan meets it
    assert float(jnp.max(jnp.abs(ys - ys_64))) <= bound


def test_step_t_is_exact_after_t_iterations(solved):
    """After k iterations from any guess, steps 1..k are exact (the first k solves of the
    linear recurrence see exact earlier states): catches an off-by-one in the shifted states."""
    cell, params, xs, carry0 = problem("rnn")
    ys_scan = solved["rnn", "deer"][0][0]
    ys, _, info = par(cell, params, xs, carry0, method="quasi-deer", max_iters=3)
    assert np.all(info.iterations == 3)
    np.testing.assert_allclose(ys[:3], ys_scan[:3], rtol=0, atol=1e-14)
    assert float(jnp.max(jnp.abs(ys[3:] - ys_scan[3:]))) > 1e-8


def test_an_overflowing_iteration_reports_inf_not_converged():
    """DEER from zeros on a chaotic tanh RNN (W_hh = 3 N(0, 1/16), T=1000) overflows in its
    first Newton step: the residual is inf and the iteration stops (XLA's max over NaNs gave
    -inf, which read as converged)."""
    k_x, k_h = jax.random.split(jax.random.PRNGKey(0))
    params = {"W_xh": jax.random.normal(k_x, (16, 1)), "b_h": jnp.zeros(16),
              "W_hh": 3.0 * jax.random.normal(k_h, (16, 16)) / 4.0}
    xs = 0.5 * jax.random.normal(jax.random.PRNGKey(1), (1000, 1))
    _, _, info = par(cells.get_cell("rnn"), params, xs, tol=1e-8)
    assert float(info.residual) == np.inf and int(info.iterations) < 1000


def test_warm_start_from_a_solution_needs_no_iteration(solved):
    cell, params, xs, carry0 = problem("gru")
    ys, _, info = solved["gru", "deer"][1]
    ys2, _, info2 = par(cell, params, xs, carry0, tol=TOL, max_iters=400, init=info.states)
    assert np.all(info2.iterations == 0)
    np.testing.assert_array_equal(ys2, ys)


def test_unbatched_int_inputs():
    cell, params, _, carry0 = problem("lstm")
    idx = jnp.arange(T) % D  # one-hot indices, one sequence
    ys_scan, carry_scan = scan(cell, params, idx)
    ys, carry, info = par(cell, params, idx, tol=TOL)
    assert info.iterations.shape == () and ys.shape == (T, H)
    np.testing.assert_allclose(ys, ys_scan, rtol=0, atol=1e-10)
    np.testing.assert_allclose(carry.c, carry_scan.c, rtol=0, atol=1e-10)


@pytest.mark.parametrize("option", [dict(window=3), dict(mask=jnp.ones((T, B), bool)),
                                    dict(lengths=jnp.array([T, 4])),
                                    dict(resets=jnp.zeros((T,), bool)), dict(reverse=True)])
def test_refuses_what_it_does_not_support(option):
    cell, params, xs, carry0 = problem("rnn")
    with pytest.raises(ValueError, match=f"does not support {next(iter(option))}.*jaxrnn.unroll"):
        unroll_parallel(cell, params, xs, carry0, **option)


@pytest.mark.parametrize("kwargs,match", [(dict(method="newton"), "unknown method"),
                                          (dict(max_iters=0), "max_iters"),
                                          (dict(damping=0.0), "damping"),
                                          (dict(init=jnp.zeros((T, H))), "init must be")])
def test_bad_arguments(kwargs, match):
    cell, params, xs, carry0 = problem("rnn")
    with pytest.raises(ValueError, match=match):
        unroll_parallel(cell, params, xs, carry0, **kwargs)


def test_linear_recurrences_match_numpy_loops():
    rng = np.random.default_rng(0)
    A, a = rng.normal(size=(7, 4, 4)) / 2, rng.normal(size=(7, 4))
    b, s0 = rng.normal(size=(7, 4)), rng.normal(size=4)
    forward, backward = jax.jit(linear_recurrence), jax.jit(linear_recurrence_reverse)
    for trans in (A, a):
        np.testing.assert_allclose(forward(jnp.asarray(trans), jnp.asarray(b), jnp.asarray(s0)),
                                   refp.linear_loop(trans, b, s0), rtol=1e-12, atol=1e-12)
    lam = np.asarray(backward(jnp.asarray(A), jnp.asarray(b)))
    want = [b[-1]]  # λ_T = g_T, λ_t = g_t + A_{t+1}ᵀ λ_{t+1}
    for t in range(5, -1, -1):
        want.insert(0, b[t] + A[t + 1].T @ want[0])
    np.testing.assert_allclose(lam, np.stack(want), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("damping", [0.3, 5.0])
def test_elk_kalman_step_is_the_damped_least_squares_solution(damping):
    rng = np.random.default_rng(1)
    A, b = rng.normal(size=(6, 3, 3)), rng.normal(size=(6, 3))
    s0, observed = rng.normal(size=3), rng.normal(size=(6, 3))
    got = jax.jit(kalman_step)(*(jnp.asarray(v) for v in (A, b, s0, observed)), damping)
    np.testing.assert_allclose(got, refp.damped_newton_dense(A, b, s0, observed, damping),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("T", [1, 13])
def test_elk_parallel_smoother_matches_dense_least_squares_on_a_sampled_model(T):
    """The associative-scan filter and smoother on data drawn from the linear-Gaussian model
    (s_t = A_t s_{t-1} + b_t + w_t, y_t = s_t + v_t/√λ), at a length that is not a power of two
    (odd tails of the scan tree) and at T=1 (no smoothing step), for contracting and expanding
    dynamics and a weak and a strong trust region: equal to the numpy dense least-squares solve,
    one compile per T."""
    rng = np.random.default_rng(T)
    S = 4
    step = jax.jit(kalman_step)
    for scale, damping in ((0.7, 0.05), (2.0, 20.0)):
        A, b = scale * rng.normal(size=(T, S, S)) / np.sqrt(S), rng.normal(size=(T, S))
        s, s0, states = (rng.normal(size=S),) * 2 + ([],)
        for t in range(T):
            s = A[t] @ s + b[t] + rng.normal(size=S)
            states.append(s)
        observed = np.stack(states) + rng.normal(size=(T, S)) / np.sqrt(damping)
        got = step(*(jnp.asarray(v) for v in (A, b, s0, observed)), damping)
        want = refp.damped_newton_dense(A, b, s0, observed, damping)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("name", CELLS if FULL_GRID else ("gru",))
def test_gradcheck_deer_column(name):
    """The implicit-function gradient (float64) against the manual BPTT, via gradcheck (in CI
    the GRU; the LSTM's gradient is checked below and the RNN's by tests/test_parallel_sine)."""
    report = gradcheck(name, steps=T, hidden=H, methods=["deer"], random_carry=True)
    worst = report.worst()
    assert report.passed and worst["deer"]["rel"] <= 1e-8 and worst["deer"]["tol"] == 1e-8


def test_gradcheck_skips_deer_where_it_does_not_apply():
    for kwargs in (dict(window=2), dict(lengths="random"), dict(resets=[2])):
        problem_ = make_problem("rnn", steps=6, **kwargs)
        assert "deer" in skipped_methods(problem_, ["deer"]), kwargs
    assert skipped_methods(make_problem("rnn", steps=6, window=6), ["deer"]) == {}


def test_quasi_and_carry_gradients_equal_autodiff_through_the_scan():
    """Forward by quasi-DEER, backward by the exact adjoint: d/d(params, carry0) of a loss on
    ys and the final carry equals jax.grad through lax.scan."""
    cell, params, xs, carry0 = problem("lstm")

    def loss(run, p, c):
        ys, carry = run(p, c)[:2]
        return jnp.sum(jnp.sin(ys)) + jnp.sum(carry.c ** 2)

    def par(p, c):
        return unroll_parallel(cell, p, xs, c, method="quasi-deer", tol=TOL)

    got = jax.jit(jax.grad(lambda p, c: loss(par, p, c), (0, 1)))(params, carry0)
    want = jax.jit(jax.grad(lambda p, c: loss(lambda q, d: unroll(cell, q, xs, d), p, c),
                            (0, 1)))(params, carry0)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
