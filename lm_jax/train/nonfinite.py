"""The NaN/Inf guard: what a train step does with a non-finite loss or gradient norm, and how the
loop notices one without syncing with the device every step.

`config.nonfinite='stop'` (the default) leaves the step as it is and ends the run at the next
log, eval or save point, naming the first bad step; the state is never saved after it, so the
newest checkpoint is the last good one. `'skip'` drops the offending update inside the step: its
batch is consumed, `state.step`, the dropout rng and the optimizer's step counters advance (so
the learning-rate schedule stays on time: optax's `apply_if_finite` would freeze the inner count
and let the schedule fall behind), parameters and optimizer moments keep their values, and the
step's loss is left out of the logged means. The loop logs `train/skipped_steps` per log window.
"""
import jax
import jax.numpy as jnp

from lm_jax.choices import NONFINITE_ACTIONS as ACTIONS


class NonFiniteError(RuntimeError):
  """A non-finite loss or gradient norm in a run that stops on one."""


def is_finite(loss, grad_norm):
  return jnp.isfinite(loss) & jnp.isfinite(grad_norm)


def keep_if_skipped(finite, new_params, old_params, new_opt_state, old_opt_state):
  """(params, opt_state) after a step that `finite` says to keep or to skip.

  Integer leaves of the optimizer state are optax's step counters (`count` of Adam, Adafactor,
  schedules): they advance either way. Float leaves (moments, Adafactor's factored statistics)
  and the parameters keep their old values when the step is skipped.
  """
  params = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_params, old_params)
  opt_state = jax.tree.map(
      lambda new, old: new if jnp.issubdtype(new.dtype, jnp.integer)
      else jnp.where(finite, new, old), new_opt_state, old_opt_state)
  return params, opt_state


def drop_from_sums(finite, metrics: dict, keys=('loss_sum', 'z_loss_sum', 'correct_sum',
                                                 'weight_sum')) -> dict:
  """A skipped step's loss terms as zeros, so the logged means cover the applied steps only."""
  return {k: jnp.where(finite, v, jnp.zeros_like(v)) if k in keys else v
          for k, v in metrics.items()}


class Tracker:
  """The first step whose `nonfinite` metric was set, kept on the device.

  `observe` is an asynchronous device op per step; `first_bad_step` reads one scalar and is
  called only where the loop syncs anyway (logging, evaluation, saving).
  """

  def __init__(self):
    self._first = None  # device int32; 0 while every step was finite

  def observe(self, step: int, nonfinite) -> None:
    bad = jnp.where(nonfinite > 0, step, 0).astype(jnp.int32)
    self._first = bad if self._first is None else jnp.where(self._first > 0, self._first, bad)

  def first_bad_step(self) -> int | None:
    if self._first is None:
      return None
    step = int(jax.device_get(self._first))
    return step or None


def stop_message(bad_step: int, step: int, last_checkpoint: int | None) -> str:
  kept = (f'The latest checkpoint, step {last_checkpoint}, predates it and is kept as the latest.'
          if last_checkpoint is not None else 'No checkpoint was written before it.')
  return (f'Non-finite training loss or gradient norm at step {bad_step} (noticed at step {step}); '
          f'the run stopped without saving the state after it. {kept} Lower '
          '--config.optimizer.learning_rate, enable clipping (--config.optimizer.grad_clip_norm), '
          'check the data of that step, or pass --config.nonfinite=skip to drop such updates.')
