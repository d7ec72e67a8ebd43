import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lm_jax.train import losses


def _data(seed=0, vocab=11):
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  logits = jax.random.normal(k1, (2, 5, vocab)) * 3
  targets = jax.random.randint(k2, (2, 5), 0, vocab)
  weights = (jax.random.uniform(k3, (2, 5)) > 0.3).astype(jnp.float32)
  return logits, targets, weights


def test_matches_optax_cross_entropy_on_weighted_tokens():
  logits, targets, weights = _data()
  out = losses.cross_entropy(logits, targets, weights)
  ref = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
  assert float(out['loss_sum']) == pytest.approx(float(jnp.sum(ref * weights)), rel=1e-6)
  assert float(out['weight_sum']) == float(weights.sum())
  assert float(out['correct_sum']) == float(jnp.sum((logits.argmax(-1) == targets) * weights))


def test_z_loss_is_weighted_squared_log_partition():
  logits, targets, weights = _data(1)
  out = losses.cross_entropy(logits, targets, weights, z_loss=1e-2)
  expected = 1e-2 * jnp.sum(jnp.square(jax.nn.logsumexp(logits, -1)) * weights)
  assert float(out['z_loss_sum']) == pytest.approx(float(expected), rel=1e-6)


def test_label_smoothing_is_zero_for_the_smoothed_target_distribution():
  vocab, smoothing = 7, 0.1
  targets = jnp.array([[3, 1]])
  soft = jax.nn.one_hot(targets, vocab) * (1 - smoothing - smoothing / (vocab - 1)) \
      + smoothing / (vocab - 1)
  out = losses.cross_entropy(jnp.log(soft), targets, jnp.ones((1, 2)), label_smoothing=smoothing)
  np.testing.assert_allclose(float(out['loss_sum']), 0.0, atol=1e-5)
