import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lm_jax.config.schema import default_config
from lm_jax.train import optimizers


def _opt(**kw):
  opt = default_config().optimizer
  opt.update(kw)
  return opt


def test_rsqrt_is_t5_inverse_square_root_after_warmup():
  schedule = optimizers.make_schedule(_opt(schedule='rsqrt', learning_rate=0.01,
                                           warmup_steps=10_000), 100_000)
  assert float(schedule(9_999)) == pytest.approx(0.01)
  for step in (10_000, 40_000, 90_000):
    assert float(schedule(step)) == pytest.approx(1 / np.sqrt(step), rel=1e-5)
  assert float(schedule(0)) < 0.01 / 1000 * 2  # Linear warm-up starts near zero.


@pytest.mark.parametrize('name', ['cosine', 'linear'])
def test_decaying_schedules_peak_then_reach_the_end_value(name):
  schedule = optimizers.make_schedule(
      _opt(schedule=name, learning_rate=1e-3, warmup_steps=10, end_learning_rate_fraction=0.1), 100)
  values = np.array([float(schedule(s)) for s in range(101)])
  assert values.argmax() == 10 and values.max() == pytest.approx(1e-3)
  assert values[100] == pytest.approx(1e-4, rel=1e-3)
  assert np.all(np.diff(values[10:]) <= 1e-12)


def test_adamw_decays_matrices_but_not_norm_scales():
  params = {'kernel': jnp.ones((2, 2)), 'scale': jnp.ones((2,))}
  opt, _ = optimizers.make_optimizer(_opt(name='adamw', schedule='constant', warmup_steps=0,
                                          learning_rate=0.1, weight_decay=0.5), 10)
  zero_grads = jax.tree.map(jnp.zeros_like, params)
  updates, _ = opt.update(zero_grads, opt.init(params), params)
  assert float(jnp.abs(updates['kernel']).max()) > 0
  assert float(jnp.abs(updates['scale']).max()) == 0


def test_gradients_are_clipped_to_the_global_norm_before_adam_sees_them():
  params = {'w': jnp.zeros((4,))}
  opt, _ = optimizers.make_optimizer(_opt(name='adamw', schedule='constant', warmup_steps=0,
                                          grad_clip_norm=1.0, b2=0.5), 10)
  _, state = opt.update({'w': jnp.full((4,), 100.0)}, opt.init(params), params)
  # Clipped to global norm 1, each of the 4 entries is 0.5; Adam's second moment is (1-b2) g^2.
  nu = [s.nu for s in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, 'nu'))
        if hasattr(s, 'nu')][0]
  np.testing.assert_allclose(np.asarray(nu['w']), 0.5 * 0.25, rtol=1e-6)


@pytest.mark.parametrize('name', ['adamw', 'adafactor'])
def test_optimizer_reduces_a_quadratic(name):
  params = {'w': jnp.full((8, 8), 3.0)}
  opt, _ = optimizers.make_optimizer(_opt(name=name, schedule='constant', warmup_steps=0,
                                          learning_rate=0.05), 100)
  state = opt.init(params)
  loss = lambda p: jnp.sum(jnp.square(p['w'] - 1.0))
  start = float(loss(params))
  for _ in range(50):
    updates, state = opt.update(jax.grad(loss)(params), state, params)
    params = optax.apply_updates(params, updates)
  assert float(loss(params)) < 0.5 * start


def _mlp_params():
  keys = jax.random.split(jax.random.key(0), 4)
  return {'body': {'kernel': jax.random.normal(keys[0], (6, 8)), 'scale': jnp.ones((8,))},
          'head': {'kernel': jax.random.normal(keys[1], (8, 3)), 'bias': jnp.zeros((3,))}}


@pytest.mark.parametrize('name', ['adamw', 'adafactor'])
def test_frozen_parameters_stay_bit_identical_and_hold_no_state(name):
  params = _mlp_params()
  labels = {'body': {'kernel': 'frozen', 'scale': 'frozen'},
            'head': {'kernel': 'trainable', 'bias': 'trainable'}}
  opt, _ = optimizers.make_optimizer(_opt(name=name, schedule='constant', warmup_steps=0,
                                          learning_rate=0.05, weight_decay=0.1,
                                          grad_clip_norm=1.0), 100, param_labels=labels)
  x = jax.random.normal(jax.random.key(1), (16, 6))
  y = jax.random.randint(jax.random.key(2), (16,), 0, 3)

  def loss(p):
    hidden = jnp.tanh(x @ p['body']['kernel'] * p['body']['scale'])
    logits = hidden @ p['head']['kernel'] + p['head']['bias']
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  state = opt.init(params)
  new = params
  for _ in range(5):
    updates, state = opt.update(jax.grad(loss)(new), state, new)
    new = optax.apply_updates(new, updates)
  for key in ('kernel', 'scale'):
    assert np.array_equal(np.asarray(new['body'][key]), np.asarray(params['body'][key]))
  for key in ('kernel', 'bias'):
    assert not np.allclose(np.asarray(new['head'][key]), np.asarray(params['head'][key]))
  assert float(loss(new)) < float(loss(params))
  # Optimizer state: none of it is shaped like the frozen (6, 8) body kernel or (8,) scale, and
  # the state holds no more numbers than for the head alone.
  shapes = [np.shape(x) for x in jax.tree.leaves(state)]
  assert (6, 8) not in shapes and (8,) not in shapes
  head_only, _ = optimizers.make_optimizer(_opt(name=name, schedule='constant', warmup_steps=0,
                                                learning_rate=0.05, weight_decay=0.1,
                                                grad_clip_norm=1.0), 100)
  size = lambda tree: sum(np.size(x) for x in jax.tree.leaves(tree))
  assert size(state) == size(head_only.init({'head': params['head']}))


def test_clipping_sees_only_trainable_gradients():
  params = {'frozen': jnp.zeros((4,)), 'trainable': jnp.zeros((4,))}
  opt, _ = optimizers.make_optimizer(
      _opt(name='adamw', schedule='constant', warmup_steps=0, grad_clip_norm=1.0, b2=0.5), 10,
      param_labels={'frozen': 'frozen', 'trainable': 'trainable'})
  grads = {'frozen': jnp.full((4,), 100.0), 'trainable': jnp.full((4,), 0.25)}
  _, state = opt.update(grads, opt.init(params), params)
  # Global norm of the trainable gradients alone is 0.5 < 1: not clipped, so nu = (1-b2) g^2.
  nu = [s.nu for s in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, 'nu'))
        if hasattr(s, 'nu')][0]
  np.testing.assert_allclose(np.asarray(nu['trainable']), 0.5 * 0.0625, rtol=1e-6)
