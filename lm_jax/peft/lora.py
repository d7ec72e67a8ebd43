"""LoRA (Hu et al. 2021) as a transform of any lm_jax model: `h = W0·x + (alpha/r)·B·A·x` on the
Dense layers `targets` names, the base parameters untouched.

Adapters are a tree mirroring the params tree: at each adapted Dense's path, `lora_a` (in, r) and
`lora_b` (r, out), the transposes of peft's `lora_A.weight` and `lora_B.weight`. Training runs
the base model under `applied(...)`, which intercepts each adapted Dense call and adds the
low-rank path (with its own dropout) to the frozen layer's output; `merge` folds the adapters into
the kernels for evaluation, decoding and serving, with no added latency.
"""
import contextlib
import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from lm_jax.choices import LORA_INITS

LORA_A, LORA_B = 'lora_a', 'lora_b'


@dataclasses.dataclass(frozen=True)
class LoraSpec:
  rank: int
  alpha: float
  dropout: float = 0.0
  use_rslora: bool = False  # scale alpha/sqrt(r) (Kalajdzievski 2023) instead of alpha/r
  init: str = 'kaiming'     # lora_a's init: peft's default, or 'gaussian' (normal, std 1/r)

  def __post_init__(self):
    if self.init not in LORA_INITS:
      raise ValueError(f'Unknown LoRA init {self.init!r}; use one of {LORA_INITS}.')

  @property
  def scale(self) -> float:
    return self.alpha / (math.sqrt(self.rank) if self.use_rslora else self.rank)


def init_adapters(spec: LoraSpec, kernel_shapes: dict, rng: jax.Array) -> dict:
  """Fresh adapters for `kernel_shapes` ('/'-joined Dense path -> its kernel's (in, out) shape).

  `lora_a` starts as peft's default, torch's kaiming_uniform_(a=sqrt(5)), which is
  U(±1/sqrt(fan_in)): variance_scaling(1/3, fan_in, uniform), not he_uniform (sqrt(6) wider).
  `lora_b` starts at zero, so the adapted model computes exactly the base model at step 0.
  """
  if spec.init == 'gaussian':
    a_init = nn.initializers.normal(1.0 / spec.rank)
  else:
    a_init = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')
  flat = {}
  for i, (path, (fan_in, fan_out)) in enumerate(sorted(kernel_shapes.items())):
    module = tuple(path.split('/'))
    flat[module + (LORA_A,)] = a_init(jax.random.fold_in(rng, i), (fan_in, spec.rank), jnp.float32)
    flat[module + (LORA_B,)] = jnp.zeros((spec.rank, fan_out), jnp.float32)
  return traverse_util.unflatten_dict(flat)


def _low_rank(spec, x, a, b, dtype, dropout_rng):
  if dropout_rng is not None and spec.dropout > 0:
    # peft drops the LoRA path's input only; the frozen layer sees x unchanged.
    keep = jax.random.bernoulli(dropout_rng, 1.0 - spec.dropout, x.shape)
    x = jnp.where(keep, x / (1.0 - spec.dropout), 0).astype(x.dtype)
  return ((x.astype(dtype) @ a.astype(dtype)) @ b.astype(dtype)) * jnp.asarray(spec.scale, dtype)


@contextlib.contextmanager
def applied(spec: LoraSpec, adapters: dict):
  """Within the block, `model.apply` runs the adapted model: each Dense that `adapters` holds an
  entry for adds the LoRA path to its output. Dropout on that path draws from the module's
  'dropout' rng, so it is on exactly when the model's own dropout is.

  Use it inside the function that is jitted (as the train step does): the interceptor acts when
  the model is traced, and a jitted function traced outside the block would be reused inside it
  from jit's cache, without the adapters."""
  flat = traverse_util.flatten_dict(adapters)

  def intercept(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    module = context.module
    if context.method_name != '__call__' or not isinstance(module, nn.Dense):
      return out
    a = flat.get(module.path + (LORA_A,))
    if a is None:
      return out
    b = flat[module.path + (LORA_B,)]
    rng = module.make_rng('dropout') if module.has_rng('dropout') else None
    return out + _low_rank(spec, args[0], a, b, out.dtype, rng)

  with nn.intercept_methods(intercept):
    yield


def merge(spec: LoraSpec, params: dict, adapters: dict) -> dict:
  """`params` with every adapted kernel replaced by W0 + (alpha/r)·A·B (float32): the model that
  `applied` computes, as plain parameters. Traceable; `check_finite` it outside jit."""
  flat_params = traverse_util.flatten_dict(params)
  flat_adapters = traverse_util.flatten_dict(adapters)
  merged = dict(flat_params)
  for key, a in flat_adapters.items():
    if key[-1] != LORA_A:
      continue
    module = key[:-1]
    if module + ('kernel',) not in flat_params:
      raise ValueError(f'The adapter of {"/".join(module)} has no kernel to merge into: the '
                       'base model has no Dense layer there.')
    kernel = flat_params[module + ('kernel',)]
    b = flat_adapters[module + (LORA_B,)]
    delta = jnp.matmul(a.astype(jnp.float32), b.astype(jnp.float32)) * spec.scale
    merged[module + ('kernel',)] = (kernel.astype(jnp.float32) + delta).astype(kernel.dtype)
  return traverse_util.unflatten_dict(merged)


def check_finite(params: dict, what: str) -> None:
  """Raises naming the first parameter with a NaN or infinity (checked where the parameters
  are: one flag per array comes back, not the arrays)."""
  finite = jax.device_get(jax.tree.map(lambda x: jnp.all(jnp.isfinite(x)), params))
  for path, ok in traverse_util.flatten_dict(finite, sep='/').items():
    if not ok:
      raise FloatingPointError(
          f'{what}: {path} has non-finite values after merging the LoRA adapters into it; the '
          'adapters (or the base) hold NaN or infinity. Use an earlier checkpoint of the adapter '
          'run.')
