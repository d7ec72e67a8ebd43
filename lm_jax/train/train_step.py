"""The train state and the pure, jit-compiled train and eval steps."""
import functools
from typing import Any, Callable, NamedTuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from lm_jax import families, partitioning
from lm_jax.partitioning import activations
from lm_jax.train import losses, nonfinite as nonfinite_lib, preference_losses


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any
  dropout_rng: jax.Array   # Split every step; saved so a resumed run draws the same dropout masks.


def init_params(model: nn.Module, rng: jax.Array, batch_shapes: dict):
  """Fresh parameters for batches of `batch_shapes` (batch key -> (shape, dtype))."""
  args, kwargs = families.model_arguments(model, families.dummy_inputs(model, batch_shapes))
  return model.init({'params': rng}, *args, **kwargs)['params']


def init_train_state(model: nn.Module, optimizer: optax.GradientTransformation, rng: jax.Array,
                     batch_shapes: dict, adapters=None) -> TrainState:
  """batch_shapes: batch key -> (shape, dtype), as `lm_jax.data.pipeline.batch_shapes` gives.
  With `adapters` (lm_jax/train/adapters.py) the state's params are the trainable half alone."""
  params_rng, dropout_rng = jax.random.split(rng)
  params = init_params(model, params_rng, batch_shapes)
  if adapters is not None:
    params = adapters.init_trainable(params, jax.random.fold_in(params_rng, 1))
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state=optimizer.init(params), dropout_rng=dropout_rng)


def _loss_terms(model, params, batch, loss_config, rngs, preference_loss=None):
  """Sums of the loss terms; with `preference_loss` (lm_jax/train/preference_losses.py) its
  per-token loss replaces the cross-entropy in loss_sum."""
  targets, weights = families.targets_and_weights(model, batch)

  def cross_entropy(logits):
    return losses.cross_entropy(logits, targets, weights,
                                label_smoothing=loss_config.label_smoothing,
                                z_loss=loss_config.z_loss)
  if preference_loss is not None:
    return preference_losses.apply(preference_loss, model, params, batch, rngs, cross_entropy)
  return cross_entropy(families.apply_model(model, params, batch, rngs))


def microbatches(batch: dict, count: int) -> dict:
  """`batch` as `count` microbatches along a new leading axis; microbatch j holds rows j,
  j + count, j + 2 count, ..., so that with the batch split over the `data` axis in contiguous
  blocks every device keeps computing on its own rows."""
  def split(x):
    rows = x.shape[0]
    if rows % count:
      raise ValueError(f'A batch of {rows} rows does not split into {count} microbatches '
                       '(grad_accum_steps).')
    return jnp.swapaxes(x.reshape(rows // count, count, *x.shape[1:]), 0, 1)
  return jax.tree.map(split, batch)


def _summed_value_and_grad(sum_of_terms, params, batch, dropout_rng, grad_accum_steps: int):
  """(terms, gradient of terms' loss_sum + z_loss_sum) over the batch; with grad_accum_steps >
  1 accumulated over that many microbatches in a scan, so that only one microbatch's
  activations are alive at a time. Sums add up across microbatches exactly as over the whole
  batch, so the step equals the large-batch step up to float summation order. Each microbatch
  draws its own dropout masks (the rng folded with its index)."""
  grad_fn = jax.grad(sum_of_terms, has_aux=True)
  if grad_accum_steps == 1:
    grads, terms = grad_fn(params, batch, dropout_rng)
    return terms, grads

  def accumulate(carry, indexed):
    index, microbatch = indexed
    grads, terms = grad_fn(params, microbatch, jax.random.fold_in(dropout_rng, index))
    return jax.tree.map(jnp.add, carry, (terms, grads)), None

  split = microbatches(batch, grad_accum_steps)
  grads, terms = jax.eval_shape(grad_fn, params, jax.tree.map(lambda x: x[0], split), dropout_rng)
  zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), (terms, grads))
  (terms, grads), _ = jax.lax.scan(accumulate, zeros, (jnp.arange(grad_accum_steps), split))
  return terms, grads


def make_train_step(model: nn.Module, optimizer: optax.GradientTransformation,
                    schedule: Callable, loss_config: ml_collections.ConfigDict,
                    param_labels=None, nonfinite: str = 'stop', adapters=None,
                    grad_accum_steps: int = 1, preference_loss=None):
  """Returns train_step(state, batch, base) -> (state, metric sums); jit it with the mesh
  shardings. `base` is None, or with `adapters` the frozen base parameters: the state's params
  are then the adapters (and any new head), which the loss sees through `adapters.applied`, and
  the base gets no gradient and is never updated.

  param_labels: 'trainable' / 'frozen' per parameter (feature extraction), or None. Frozen
  parameters enter the loss through stop_gradient, so XLA does not compute their weight
  gradients and `grad_norm` measures what the optimizer sees.
  nonfinite: 'stop' applies every update and flags a non-finite one in the `nonfinite` metric
  for the loop to stop on; 'skip' drops it (lm_jax/train/nonfinite.py says what that keeps).
  grad_accum_steps: the batch is computed as that many microbatches, their gradients summed
  before the one update (_summed_value_and_grad).
  preference_loss: the per-token loss of a preference objective (unlikelihood, RWR, AWR) in
  place of the cross-entropy; evaluation keeps the plain cross-entropy, so runs compare.
  """
  if nonfinite not in nonfinite_lib.ACTIONS:
    raise ValueError(f'nonfinite must be one of {nonfinite_lib.ACTIONS}, got {nonfinite!r}.')
  if not isinstance(grad_accum_steps, int) or grad_accum_steps < 1:
    raise ValueError(f'grad_accum_steps must be a positive integer, got {grad_accum_steps!r}.')

  def train_step(state: TrainState, batch: dict, base=None):
    dropout_rng, next_rng = jax.random.split(state.dropout_rng)

    def sum_of_terms(params, batch, dropout_rng):
      if param_labels is not None:
        params = jax.tree.map(
            lambda p, label: jax.lax.stop_gradient(p) if label == 'frozen' else p,
            params, param_labels)
      if adapters is None:
        terms = _loss_terms(model, params, batch, loss_config, {'dropout': dropout_rng},
                            preference_loss)
      else:
        with adapters.applied(params):
          terms = _loss_terms(model, adapters.combine(base, params), batch, loss_config,
                              {'dropout': dropout_rng}, preference_loss)
      return terms['loss_sum'] + terms['z_loss_sum'], terms

    terms, summed_grads = _summed_value_and_grad(sum_of_terms, state.params, batch, dropout_rng,
                                                 grad_accum_steps)
    # Per-token mean over the whole global batch; gradients of a mean are batch-size independent.
    denom = jnp.maximum(terms['weight_sum'], 1.0)
    loss = (terms['loss_sum'] + terms['z_loss_sum']) / denom
    grads = jax.tree.map(lambda g: g / denom, summed_grads)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    grad_norm = optax.tree.norm(grads)
    finite = nonfinite_lib.is_finite(loss, grad_norm)
    if nonfinite == 'skip':
      params, opt_state = nonfinite_lib.keep_if_skipped(finite, params, state.params, opt_state,
                                                        state.opt_state)
      terms = nonfinite_lib.drop_from_sums(finite, terms)
    metrics = dict(terms,
                   grad_norm=grad_norm,
                   learning_rate=schedule(state.step),
                   tokens=families.token_count(model, batch),
                   nonfinite=(~finite).astype(jnp.int32))
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              dropout_rng=next_rng)
    return new_state, metrics

  return train_step


def make_eval_step(model: nn.Module, loss_config: ml_collections.ConfigDict):
  """Returns eval_step(params, batch) -> metric sums, deterministic (no dropout rng)."""

  def eval_step(params, batch: dict):
    return _loss_terms(model, params, batch, loss_config, rngs={})

  return eval_step


def summarize(sums: dict) -> dict:
  """Metric sums -> per-token means (loss, perplexity, token accuracy)."""
  denom = max(float(sums['weight_sum']), 1.0)
  loss = float(sums['loss_sum']) / denom
  return {'loss': loss,
          'perplexity': float(jnp.exp(jnp.minimum(loss, 80.0))),
          'token_accuracy': float(sums['correct_sum']) / denom,
          'z_loss': float(sums['z_loss_sum']) / denom}


class JittedSteps(NamedTuple):
  init: Callable   # rng (uint32[2]) -> TrainState, laid out as `state_sharding`
  # (state, batch, base) -> (state, metric sums), the input state donated; base: None, or the
  # frozen base parameters of an adapter run (placed by the caller, e.g. param_shardings).
  train: Callable
  eval: Callable   # (params, batch) -> metric sums; params as placed by the caller
  state_sharding: Any  # a TrainState of NamedShardings: the layout of every step's state


def jit_steps(model: nn.Module, optimizer: optax.GradientTransformation, schedule: Callable,
              loss_config: ml_collections.ConfigDict, mesh, batch_shapes: dict,
              param_labels=None, nonfinite: str = 'stop', adapters=None,
              grad_accum_steps: int = 1, preference_loss=None,
              rules=partitioning.DEFAULT_RULES) -> JittedSteps:
  """The steps compiled for `mesh`: parameters and optimizer state laid out by their logical axes
  and `rules` (lm_jax/partitioning), batches split along `data` and `fsdp`.

  One place for these shardings, so that training and the benchmarks run the same program.
  """
  replicated = partitioning.replicated(mesh)
  batch = partitioning.batch_sharding(mesh)

  def init(rng):
    return init_train_state(model, optimizer, rng, batch_shapes, adapters)
  state_sharding = partitioning.state_shardings(
      mesh, jax.eval_shape(init, jax.random.key_data(jax.random.key(0))), rules)
  laid_out = functools.partial(activations.in_layout, mesh)
  return JittedSteps(
      init=jax.jit(init, out_shardings=state_sharding),
      train=jax.jit(laid_out(make_train_step(model, optimizer, schedule, loss_config,
                                             param_labels, nonfinite, adapters, grad_accum_steps,
                                             preference_loss)),
                    in_shardings=(state_sharding, batch, None),
                    out_shardings=(state_sharding, replicated),
                    donate_argnums=(0,)),
      eval=jax.jit(laid_out(make_eval_step(model, loss_config)), in_shardings=(None, batch),
                   out_shardings=replicated),
      state_sharding=state_sharding)
