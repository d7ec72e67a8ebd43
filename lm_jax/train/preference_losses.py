"""The losses of pretraining with human preferences (Korbak et al. 2023, §3), from the scores
each token carries (`decoder_token_scores`, its line's: lower is better). MLE, filtering and
conditional training keep the plain cross-entropy (their work is the data transform in
lm_jax/data/line_scores.py); unlikelihood, RWR and AWR change the per-token loss here.

Every loss is a sum over weighted tokens, as `losses.cross_entropy`'s, so that shards and
microbatches add up exactly and the train step divides once by the weight sum.
"""
import dataclasses

import jax
import jax.numpy as jnp

from lm_jax import families
from lm_jax.data.scored_stream import SCORES

# Korbak's unlikelihood clamps 1 - p here, so that log(1 - p) stays finite as p -> 1.
MIN_ONE_MINUS_P = 1e-5


def target_log_probs(logits, targets):
  """log p(target) per token (B, T)."""
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  return jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]


def unlikelihood_sum(log_p, weights, scores, *, threshold: float, alpha: float):
  """Likelihood on tokens whose line scores <= threshold, alpha * log(1 - p) on the others
  (Welleck et al. 2020), minimised as -log p and -alpha * log(1 - p).

  Korbak's code tests `if self.threshold` before comparing, so a threshold of 0 (the paper's
  PEP8 setting) disables unlikelihood there; this follows the paper's rule instead: at
  threshold 0 every token of a line with any violation is undesirable.
  """
  undesirable = scores > threshold
  one_minus_p = jnp.maximum(1.0 - jnp.exp(log_p), MIN_ONE_MINUS_P)
  per_token = jnp.where(undesirable, -alpha * jnp.log(one_minus_p), -log_p)
  return jnp.sum(per_token * weights)


def rwr_sum(log_p, weights, scores, *, beta: float):
  """Reward-weighted regression (Peters & Schaal 2007): the cross-entropy of each token weighted
  by exp(R / beta), R = -score (Korbak's AWR with alpha = 1 and no value head)."""
  return jnp.sum(jnp.exp(-scores / beta) * -log_p * weights)


def awr_sum(log_p, weights, scores, values, *, alpha: float, beta: float, max_weight: float):
  """Advantage-weighted regression (Peng et al. 2019): the cross-entropy weighted by
  min(exp(A / beta), max_weight), A = R - V with the value V held fixed, plus the value head's
  regression onto R: alpha * weighted CE + (1 - alpha) * (V - R)^2 per token."""
  rewards = -scores
  advantages = rewards - jax.lax.stop_gradient(values)
  token_weights = jnp.minimum(jnp.exp(advantages / beta), max_weight)
  per_token = alpha * token_weights * -log_p + (1 - alpha) * jnp.square(values - rewards)
  return jnp.sum(per_token * weights)


@dataclasses.dataclass(frozen=True)
class PreferenceLoss:
  """The loss of `objective` (one of unlikelihood, rwr, awr) with config.preference's values."""
  objective: str
  threshold: float
  alpha: float
  beta: float
  max_weight: float

  @property
  def needs_values(self) -> bool:
    return self.objective == 'awr'

  def loss_sum(self, logits, targets, weights, scores, values=None):
    log_p = target_log_probs(logits, targets)
    if self.objective == 'unlikelihood':
      return unlikelihood_sum(log_p, weights, scores, threshold=self.threshold, alpha=self.alpha)
    if self.objective == 'rwr':
      return rwr_sum(log_p, weights, scores, beta=self.beta)
    return awr_sum(log_p, weights, scores, values, alpha=self.alpha, beta=self.beta,
                   max_weight=self.max_weight)


LOSS_OBJECTIVES = ('unlikelihood', 'rwr', 'awr')


def for_config(preference_config) -> PreferenceLoss | None:
  """The loss of config.preference's objective; None when it is the plain cross-entropy."""
  if preference_config.objective not in LOSS_OBJECTIVES:
    return None
  return PreferenceLoss(preference_config.objective, float(preference_config.threshold),
                        float(preference_config.alpha), float(preference_config.beta),
                        float(preference_config.max_weight))


def check_value_head(model, preference_config) -> None:
  """AWR needs a model that predicts a value per token, before any compute."""
  if preference_config.objective == 'awr' and not getattr(model.config, 'value_head', False):
    raise ValueError(
        f"config.preference.objective='awr' regresses a value head onto the rewards, and "
        f'{type(model).__name__} has none: use a gpt model with --config.model.value_head=True.')


def logits_and_values(model, params, batch, rngs):
  """The logits and the value head's output (B, T) of a model built with value_head=True."""
  args, kwargs = families.model_arguments(model, batch)
  logits, state = model.apply({'params': params}, *args, **kwargs, rngs=rngs,
                              mutable=['intermediates'])
  return logits, state['intermediates']['values'][0]


def apply(preference_loss: PreferenceLoss, model, params, batch, rngs, terms_of_logits):
  """`terms_of_logits(logits)`'s cross-entropy terms with loss_sum replaced by the preference
  objective's; z-loss, accuracy and weight sums are kept."""
  if preference_loss.needs_values:
    logits, values = logits_and_values(model, params, batch, rngs)
  else:
    logits, values = families.apply_model(model, params, batch, rngs), None
  terms = terms_of_logits(logits)
  targets, weights = families.targets_and_weights(model, batch)
  terms['loss_sum'] = preference_loss.loss_sum(logits, targets, weights, batch[SCORES], values)
  return terms
