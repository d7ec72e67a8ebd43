"""Learning-rate schedules and optax optimizers built from `config.optimizer`."""
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax


def make_schedule(opt: ml_collections.ConfigDict, num_train_steps: int) -> optax.Schedule:
  """Linear warm-up to `opt.learning_rate`, then the named decay."""
  peak, warmup = opt.learning_rate, opt.warmup_steps
  end = peak * opt.end_learning_rate_fraction

  def ramp(step):
    # Reaches the peak at step `warmup - 1` so that step 0 already learns a little.
    return jnp.minimum(1.0, (step + 1.0) / max(warmup, 1))

  if opt.schedule == 'constant':
    return lambda step: peak * ramp(step)
  if opt.schedule == 'rsqrt':
    # T5 (Raffel et al. 2020, §3.1.2): lr = 1/sqrt(max(step, 10^4)), i.e. 0.01 until 10^4 steps.
    return lambda step: peak * ramp(step) * jnp.sqrt(warmup / jnp.maximum(step, warmup))
  if opt.schedule == 'cosine':
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, num_train_steps, end_value=end)
  if opt.schedule == 'linear':
    return optax.join_schedules(
        [optax.linear_schedule(0.0, peak, warmup),
         optax.linear_schedule(peak, end, num_train_steps - warmup)], [warmup])
  raise ValueError(f'Unknown optimizer.schedule {opt.schedule!r}.')


def _decay_mask(params):
  # Weight decay on matrices only: decaying norm scales pulls them towards zero, not towards identity.
  return jax.tree.map(lambda p: p.ndim > 1, params)


def make_optimizer(opt: ml_collections.ConfigDict, num_train_steps: int, param_labels: Any = None,
                   adapters: bool = False) -> tuple[optax.GradientTransformation, Callable]:
  """Returns (optimizer, schedule); clipping by global norm comes first in the chain.

  adapters: the parameters are LoRA adapters. Adafactor then steps by the learning rate itself
  rather than relative to each parameter's RMS: lora_b starts at zero, and a step proportional
  to its size would leave it at zero.

  param_labels: None (every parameter learns) or a pytree like the params of 'trainable' /
  'frozen' strings (lm_jax.train.finetune.trainable_labels). Frozen parameters get zero updates
  and no optimizer state; clipping then measures the trainable gradients only.
  """
  schedule = make_schedule(opt, num_train_steps)
  if opt.name == 'adamw':
    core = optax.adamw(schedule, b1=opt.b1, b2=opt.b2, eps=opt.eps,
                       weight_decay=opt.weight_decay, mask=_decay_mask)
  elif opt.name == 'adafactor':
    # T5's settings: factored second moments, no momentum, update clipping at 1, parameter scaling.
    core = optax.adafactor(schedule, decay_rate=opt.adafactor_decay_rate,
                           clipping_threshold=opt.adafactor_clipping_threshold,
                           multiply_by_parameter_scale=not adapters)
  else:
    raise ValueError(f'Unknown optimizer.name {opt.name!r}.')
  if opt.grad_clip_norm > 0:
    core = optax.chain(optax.clip_by_global_norm(opt.grad_clip_norm), core)
  if param_labels is not None:
    # multi_transform hands each branch only its own leaves: Adam's moments exist for the
    # trainable ones alone, and weight decay never touches a frozen parameter.
    core = optax.multi_transform({'trainable': core, 'frozen': optax.set_to_zero()},
                                 param_labels)
  return core, schedule
