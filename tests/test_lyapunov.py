"""``jaxrnn.parallel.lyapunov``: the spectrum of a linear RNN is log|eig(W_hh)|; a tanh RNN's
Jacobians and spectrum against numpy float64 code; the Jacobians agree with the diagnostics'."""
import jax
import jax.numpy as jnp
import numpy as np

import reference as ref
import reference_parallel as refp
from jaxrnn import cells
from jaxrnn.grad.diagnostics import step_jacobians
from jaxrnn.parallel import largest_lyapunov, lyapunov_spectrum, trajectory_jacobians

EIGENVALUES = np.array([0.9, -0.6, 0.4, 0.2])
spectrum = jax.jit(lyapunov_spectrum)
largest = jax.jit(largest_lyapunov)
jacobians = jax.jit(trajectory_jacobians, static_argnums=0)


def linear_rnn_W():
    """A non-normal W_hh = V diag(EIGENVALUES) V⁻¹ with a random basis V."""
    V = np.random.default_rng(0).normal(size=(4, 4))
    return V @ np.diag(EIGENVALUES) @ np.linalg.inv(V)


def test_linear_rnn_exponents_are_log_moduli_of_eigenvalues():
    """h_t = W h_{t-1} + W_xh x_t has J_t = W at every step. The QR estimate converges like
    c/T (c ~ the log-condition of V: a transient, not a bias), so at T = 1000 and 2000 it is
    within 10/T of log|eig(W)|, and the error halves when T doubles."""
    W = linear_rnn_W()
    want = np.sort(np.log(np.abs(EIGENVALUES)))[::-1]
    errors = []
    for T in (1000, 2000):
        J = jnp.broadcast_to(jnp.asarray(W), (T, 4, 4))
        errors.append(np.max(np.abs(np.asarray(spectrum(J)) - want)))
        assert errors[-1] <= 10 / T
        lle, running = largest(J)
        assert abs(float(lle) - want[0]) <= 10 / T and running.shape == (T,)
    assert 0.4 <= errors[1] / errors[0] <= 0.6


def test_tanh_rnn_jacobians_and_spectrum_match_numpy():
    cell = cells.get_cell("rnn")
    params = cell.init(jax.random.PRNGKey(1), 2, 4, recurrent_init="normal(1.5)",
                       dtype=jnp.float64)
    params = dict(params, b_h=params["b_h"] + 0.1)
    xs = jax.random.normal(jax.random.PRNGKey(2), (60, 2), jnp.float64)
    h0 = 0.3 * jnp.ones(4)
    J = jacobians(cell, params, xs, h0)
    J_np = refp.rnn_jacobians(ref.to_np(params), np.asarray(xs), np.asarray(h0))
    np.testing.assert_allclose(J, J_np, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(spectrum(J), refp.qr_lyapunov(J_np), rtol=1e-10, atol=1e-12)


def test_lstm_jacobians_equal_the_diagnostics_ones():
    """Same (T, 2H, 2H) Jacobians, s = [h; c], as ``grad.diagnostics.step_jacobians``."""
    cell = cells.get_cell("lstm")
    params = cell.init(jax.random.PRNGKey(3), 2, 3, dtype=jnp.float64)
    xs = jax.random.normal(jax.random.PRNGKey(4), (7, 2), jnp.float64)
    np.testing.assert_allclose(jacobians(cell, params, xs),
                               jax.jit(step_jacobians, static_argnums=0)(cell, params, xs),
                               rtol=1e-12, atol=1e-14)
