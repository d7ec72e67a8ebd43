"""The losses of pretraining with human preferences against their formulas written out in numpy
(Korbak et al. 2023, §3): unlikelihood, reward-weighted and advantage-weighted regression, and
AWR's value gradient, which comes from the value regression alone."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.config.schema import default_config
from lm_jax.models.gpt import GPT, GPTConfig
from lm_jax.models.t5 import T5, T5Config
from lm_jax.train import preference_losses
from lm_jax.train.preference_losses import PreferenceLoss, awr_sum, target_log_probs

THRESHOLD, ALPHA, BETA, MAX_WEIGHT = 0.05, 0.3, 0.5, 4.0


def _batch():
  """float64 numpy logits (2, 5, 7), targets, weights with zeros, scores (zero, exactly at
  THRESHOLD, above it), and values; one undesirable token is predicted with p ~ 1."""
  rng = np.random.default_rng(0)
  logits = rng.normal(0, 2, (2, 5, 7))
  targets = rng.integers(0, 7, (2, 5))
  weights = np.array([[1, 1, 0, 1, 1], [1, 0, 1, 1, 1]], np.float64)
  scores = np.array([[0, 0.02, 0.3, THRESHOLD, 0.3], [0, 0.5, 0, 0.1, 0.3]])
  logits[0, 4, targets[0, 4]] = 40.0  # 1 - p underflows: the clamp at 1e-5 decides
  values = np.array([[-3.0, 0.5, 0.0, -2.0, 0.2], [-0.3, -1.5, 0.4, -0.05, 0.0]])
  return logits, targets, weights, scores, values


def _log_p(logits, targets):
  shifted = logits - logits.max(-1, keepdims=True)
  log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
  return np.take_along_axis(log_softmax, targets[..., None], -1)[..., 0]


def _loss(objective, logits, targets, weights, scores, values=None):
  loss = PreferenceLoss(objective, THRESHOLD, ALPHA, BETA, MAX_WEIGHT)
  values = None if values is None else jnp.asarray(values, jnp.float32)
  return float(loss.loss_sum(jnp.asarray(logits, jnp.float32), jnp.asarray(targets),
                             jnp.asarray(weights, jnp.float32), jnp.asarray(scores, jnp.float32),
                             values))


def test_target_log_probs_is_the_log_softmax_of_the_target():
  logits, targets, *_ = _batch()
  np.testing.assert_allclose(target_log_probs(jnp.asarray(logits, jnp.float32), targets),
                             _log_p(logits, targets), rtol=1e-5, atol=1e-5)


def test_unlikelihood():
  logits, targets, weights, scores, _ = _batch()
  log_p = _log_p(logits, targets)
  bad = scores > THRESHOLD  # a score equal to the threshold is still good
  assert bad.any() and (~bad & (scores > 0)).any()
  assert 1 - np.exp(log_p[0, 4]) < 1e-5 and bad[0, 4] and weights[0, 4]
  per_token = np.where(bad, -ALPHA * np.log(np.maximum(1 - np.exp(log_p), 1e-5)), -log_p)
  expected = np.sum(per_token * weights)
  loss = _loss('unlikelihood', logits, targets, weights, scores)
  assert loss == pytest.approx(expected, rel=1e-5)


def test_reward_weighted_regression():
  logits, targets, weights, scores, _ = _batch()
  expected = np.sum(np.exp(-scores / BETA) * -_log_p(logits, targets) * weights)
  assert _loss('rwr', logits, targets, weights, scores) == pytest.approx(expected, rel=1e-5)


def _awr_numpy(logits, targets, weights, scores, values):
  rewards = -scores
  token_weights = np.minimum(np.exp((rewards - values) / BETA), MAX_WEIGHT)
  per_token = (ALPHA * token_weights * -_log_p(logits, targets)
               + (1 - ALPHA) * (values - rewards) ** 2)
  return np.sum(per_token * weights), token_weights


def test_advantage_weighted_regression_with_clipped_weights():
  logits, targets, weights, scores, values = _batch()
  expected, token_weights = _awr_numpy(logits, targets, weights, scores, values)
  clipped = (token_weights == MAX_WEIGHT) & (weights > 0)
  assert clipped.any() and ((token_weights < MAX_WEIGHT) & (weights > 0)).any()
  loss = _loss('awr', logits, targets, weights, scores, values)
  assert loss == pytest.approx(expected, rel=1e-5)


def test_awr_values_learn_from_the_value_regression_only():
  logits, targets, weights, scores, values = _batch()
  log_p = target_log_probs(jnp.asarray(logits, jnp.float32), targets)
  grad = jax.grad(lambda v: awr_sum(log_p, jnp.asarray(weights, jnp.float32),
                                    jnp.asarray(scores, jnp.float32), v, alpha=ALPHA, beta=BETA,
                                    max_weight=MAX_WEIGHT))(jnp.asarray(values, jnp.float32))
  # d/dV of (1 - alpha) (V - R)^2 w; the weights exp(A / beta) hold V fixed.
  expected = (1 - ALPHA) * 2 * (values + scores) * weights
  np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_for_config_reads_config_preference():
  preference = default_config().preference
  for objective in ('none', 'mle', 'filtering', 'conditional'):
    preference.objective = objective
    assert preference_losses.for_config(preference) is None
  preference.update(objective='awr', threshold=0.1, alpha=0.05, beta=2.0, max_weight=100.0)
  assert preference_losses.for_config(preference) == PreferenceLoss('awr', 0.1, 0.05, 2.0, 100.0)


def _gpt(value_head):
  return GPT(GPTConfig(vocab_size=16, d_model=8, num_heads=2, head_dim=4, d_ff=16, num_layers=1,
                       max_length=8, value_head=value_head))


def test_awr_needs_a_model_with_a_value_head():
  preference = default_config().preference
  preference.objective = 'awr'
  t5 = T5(T5Config(vocab_size=16, d_model=8, num_heads=2, head_dim=4, d_ff=16,
                   num_encoder_layers=1, num_decoder_layers=1))
  for model in (_gpt(False), t5):
    with pytest.raises(ValueError, match="objective='awr'.*value head.*value_head=True"):
      preference_losses.check_value_head(model, preference)
  preference_losses.check_value_head(_gpt(True), preference)
  preference.objective = 'rwr'
  preference_losses.check_value_head(_gpt(False), preference)


def test_the_value_head_leaves_the_logits_and_gives_a_value_per_token():
  model = _gpt(True)
  tokens = np.array([[3, 4, 5, 6, 7], [9, 9, 2, 0, 0]], np.int32)
  params = jax.jit(model.init)(jax.random.key(0), tokens)['params']
  apply = jax.jit(lambda t: preference_losses.logits_and_values(
      model, params, {'decoder_input_tokens': t}, rngs={}))
  logits, values = apply(tokens)
  np.testing.assert_array_equal(logits, jax.jit(model.apply)({'params': params}, tokens))
  assert values.shape == tokens.shape and values.dtype == jnp.float32
  assert np.unique(np.asarray(values)).size > 5  # one value per token, not a constant
  # V(t) sees tokens up to t only, as the logits do.
  changed = tokens.copy()
  changed[:, 3:] = 11
  _, changed_values = apply(changed)
  np.testing.assert_allclose(changed_values[:, :3], values[:, :3], rtol=1e-6)
  assert not np.allclose(changed_values[:, 3:], values[:, 3:])
