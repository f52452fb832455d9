"""Each optimiser of ``make_optimizer`` against the hand-written numpy float64 rule it stands for.

Three steps on a two-leaf pytree with gradients that include zeros and elements beyond the clip
value, so clipping, zero accumulators and bias correction are all exercised.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrnn.optim import make_optimizer

LR = 0.05
RTOL = 1e-12  # float64; optax's rsqrt vs numpy's 1/sqrt differ in the last bits only


def _grads(n_steps=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_steps):
        g = {"W": rng.normal(0, 4.0, (3, 4)), "b": rng.normal(0, 4.0, (4,))}
        g["W"][0, :2] = 0.0  # zero gradients: AdaGrad's accumulator stays at its start there
        g["b"][1] = 9.0  # beyond every clip value used below
        out.append(g)
    return out


def _params(seed=1):
    rng = np.random.default_rng(seed)
    return {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,))}


def _run_optax(opt, params, grads):
    p = jax.tree_util.tree_map(jnp.asarray, params)
    state = opt.init(p)
    for g in grads:
        updates, state = opt.update(jax.tree_util.tree_map(jnp.asarray, g), state, p)
        p = optax.apply_updates(p, updates)
    return jax.tree_util.tree_map(np.asarray, p)


# ---- hand-written numpy rules (p, g, state, t) -> (p, state); state is a dict per leaf ----

def sgd(p, g, s, t):
    return p - LR * g, s


def adagrad(initial, eps, inside):
    def rule(p, g, s, t):
        a = s.get("a", np.full_like(p, initial)) + g * g
        step = g / np.sqrt(a + eps) if inside else g / (np.sqrt(a) + eps)
        if inside:
            step = np.where(a > 0, step, 0.0)  # optax: a zero accumulator gives a zero update
        return p - LR * step, {"a": a}
    return rule


def adam(b1=0.9, b2=0.999, eps=1e-8):
    def rule(p, g, s, t):
        m = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        return p - LR * m_hat / (np.sqrt(v_hat) + eps), {"m": m, "v": v}
    return rule


def rmsprop(decay=0.9, eps=1e-8):
    def rule(p, g, s, t):
        v = decay * s.get("v", 0.0) + (1 - decay) * g * g
        return p - LR * g / (np.sqrt(v) + eps), {"v": v}
    return rule


def clip_value(c):
    return lambda gs: {k: np.clip(v, -c, c) for k, v in gs.items()}


def clip_global_norm(c):
    def clip(gs):
        norm = np.sqrt(sum(np.sum(v ** 2) for v in gs.values()))
        return {k: v * (c / norm if norm > c else 1.0) for k, v in gs.items()}
    return clip


def _run_numpy(rule, params, grads, clip=None):
    p = {k: v.copy() for k, v in params.items()}
    states = {k: {} for k in p}
    for t, g in enumerate(grads, start=1):
        g = clip(g) if clip else g
        for k in p:
            p[k], states[k] = rule(p[k], g[k], states[k], t)
    return p


CASES = {
    "sgd": (dict(name="sgd"), sgd),
    "adagrad_inside_acc0": (dict(name="adagrad", eps=1e-8, initial_accumulator=0.0),
                            adagrad(0.0, 1e-8, True)),
    "adagrad_inside_acc0.1": (dict(name="adagrad", eps=1e-7, initial_accumulator=0.1),
                              adagrad(0.1, 1e-7, True)),
    "adagrad_outside_acc0": (dict(name="adagrad", eps=1e-8, initial_accumulator=0.0,
                                  eps_inside_sqrt=False), adagrad(0.0, 1e-8, False)),
    "adagrad_outside_acc0.5": (dict(name="adagrad", eps=1e-3, initial_accumulator=0.5,
                                    eps_inside_sqrt=False), adagrad(0.5, 1e-3, False)),
    "adam": (dict(name="adam"), adam()),
    "adam_b": (dict(name="adam", b1=0.5, b2=0.9, eps=1e-4), adam(0.5, 0.9, 1e-4)),
    "rmsprop": (dict(name="rmsprop"), rmsprop()),
    "rmsprop_decay": (dict(name="rmsprop", decay=0.5, eps=1e-3), rmsprop(0.5, 1e-3)),
}
CLIPS = {"none": ({}, None), "value": (dict(clip="value", clip_value=5.0), clip_value(5.0)),
         "global_norm": (dict(clip="global_norm", clip_value=3.0), clip_global_norm(3.0))}


@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("case", list(CASES))
def test_optimizer_matches_hand_written_rule(case, clip):
    kwargs, rule = CASES[case]
    clip_kwargs, clip_fn = CLIPS[clip]
    kwargs = dict(kwargs)
    name = kwargs.pop("name")
    opt = make_optimizer(name, LR, **kwargs, **clip_kwargs)
    params, grads = _params(), _grads()
    got = _run_optax(opt, params, grads)
    want = _run_numpy(rule, params, grads, clip_fn)
    for k in params:
        np.testing.assert_allclose(got[k], want[k], rtol=RTOL, atol=1e-14)
        assert not np.allclose(got[k], params[k])  # the step moved every leaf


def test_optax_adagrad_chain_is_min_char_rnn_adagrad():
    """``optax.chain(clip(5), adagrad(lr, 0, 1e-8))`` is min-char-rnn's AdaGrad, clipped ±5:
    ``mem += g²; p -= lr g / sqrt(mem + 1e-8)``; make_optimizer's adagrad is the same."""
    lr = 0.1
    params, grads = _params(2), _grads(5, seed=3)
    chain = optax.chain(optax.clip(5.0), optax.adagrad(lr, initial_accumulator_value=0.0,
                                                       eps=1e-8))
    ours = make_optimizer("adagrad", lr, clip="value", clip_value=5.0, eps=1e-8,
                          initial_accumulator=0.0)
    p = {k: v.copy() for k, v in params.items()}
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    for g in grads:
        for k in p:  # the hand-written loop of min-char-rnn
            d = np.clip(g[k], -5, 5)
            mem[k] += d * d
            p[k] += -lr * d / np.sqrt(mem[k] + 1e-8)
    for opt in (chain, ours):
        got = _run_optax(opt, params, grads)
        for k in p:
            np.testing.assert_allclose(got[k], p[k], rtol=RTOL, atol=1e-14)


def test_optax_adagrad_defaults_differ_from_the_seeds():
    """optax.adagrad's defaults (accumulator 0.1, eps 1e-7) give a different first step."""
    params, grads = _params(), _grads(1)
    got = _run_optax(optax.adagrad(LR), params, grads)
    want = _run_numpy(adagrad(0.0, 1e-8, True), params, grads)
    assert not np.allclose(got["W"], want["W"], rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="adamw"), "unknown optimizer"),
    (dict(name="sgd", clip="norm"), "unknown clip"),
    (dict(name="sgd", clip="value"), "positive clip_value"),
    (dict(name="sgd", clip="global_norm", clip_value=-1.0), "positive clip_value"),
])
def test_bad_arguments_are_refused(kwargs, match):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=match):
        make_optimizer(name, LR, **kwargs)
