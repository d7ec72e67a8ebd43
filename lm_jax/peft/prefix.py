"""Prefix tuning (Li & Liang 2021): P trained key and value vectors in front of every attention
layer's own, which every query attends to, the base model frozen.

The layout is HF/peft's: the prefixes act as P past tokens, so the real tokens sit at positions
P, P + 1, ... (learned and sinusoidal tables, RoPE and T5's relative bias alike; the stacks shift
them, lm_jax/models/attention.py `prefix_length`), and the KV cache of decoding holds the real
tokens only. The trainable tree holds either the vectors themselves, one (P, H, D) `key` and
`value` per attention layer, or with `projection` (Li & Liang's reparameterisation, peft's
`prefix_projection`) a (P, d_model) embedding and the MLP that maps it to all of them;
`key_values` evaluates the MLP, which folds it away for evaluation and decoding.
"""
import dataclasses
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from lm_jax.models.attention import PREFIX_KEY, PREFIX_VALUE

KEY, VALUE = 'key', 'value'
EMBEDDING, HIDDEN, OUT = 'embedding', 'hidden', 'out'
_PROJECTIONS = ('query', 'key', 'value', 'out')  # what makes a module an attention layer


@dataclasses.dataclass(frozen=True)
class PrefixSpec:
  num_virtual_tokens: int
  projection: bool
  layers: tuple[str, ...]  # '/'-joined paths of the attention layers, in peft's (depth) order
  num_heads: int
  head_dim: int
  d_model: int

  @property
  def hidden(self) -> int:
    return self.d_model  # the MLP's width: peft's encoder_hidden_size default, the model's width


def _natural(path: str):
  """Sort key putting layers_2 before layers_10."""
  return [int(p) if p.isdigit() else p for p in re.split(r'(\d+)', path)]


def attention_layers(params) -> tuple[str, ...]:
  """'/'-joined paths of the attention layers in `params` (arrays or shapes): the modules whose
  Dense children are query, key, value and out."""
  modules = {}
  for path in traverse_util.flatten_dict(params):
    if len(path) >= 3 and path[-2] in _PROJECTIONS:
      modules.setdefault(path[:-2], set()).add(path[-2])
  return tuple(sorted(('/'.join(m) for m, children in modules.items()
                       if children == set(_PROJECTIONS)), key=_natural))


def spec_for(model, params, num_virtual_tokens: int, projection: bool) -> PrefixSpec:
  """The prefix of `model` (params: its shapes), refused before any compute where it cannot
  apply."""
  layers = attention_layers(params)
  cfg = getattr(model, 'config', None)
  sizes = [getattr(cfg, k, None) for k in ('num_heads', 'head_dim', 'd_model')]
  if not layers or None in sizes:
    raise ValueError(
        f"config.peft.method='prefix' adds keys and values to attention layers with query, key, "
        f"value and out projections; {type(model).__name__} has none (or its config lacks "
        "num_heads, head_dim, d_model). Use --config.peft.method=lora.")
  return PrefixSpec(num_virtual_tokens, projection, layers, *sizes)


def init_prefix(spec: PrefixSpec, rng: jax.Array) -> dict:
  """Fresh prefixes: normal(1) vectors as peft's nn.Embedding; the MLP's kernels as torch's
  Linear default, U(±1/sqrt(fan_in))."""
  p, h, d = spec.num_virtual_tokens, spec.num_heads, spec.head_dim
  rngs = iter(jax.random.split(rng, 2 * len(spec.layers) + 3))
  normal = nn.initializers.normal(1.0)
  if not spec.projection:
    flat = {}
    for layer in spec.layers:
      for name in (KEY, VALUE):
        flat[f'{layer}/{name}'] = normal(next(rngs), (p, h, d), jnp.float32)
    return traverse_util.unflatten_dict(flat, sep='/')
  linear = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')
  out = len(spec.layers) * 2 * h * d
  return {EMBEDDING: normal(next(rngs), (p, spec.d_model), jnp.float32),
          HIDDEN: {'kernel': linear(next(rngs), (spec.d_model, spec.hidden), jnp.float32),
                   'bias': jnp.zeros((spec.hidden,), jnp.float32)},
          OUT: {'kernel': linear(next(rngs), (spec.hidden, out), jnp.float32),
                'bias': jnp.zeros((out,), jnp.float32)}}


def key_values(spec: PrefixSpec, trainable: dict) -> dict:
  """Attention layer path -> (key, value), each (P, H, D) float32."""
  if not spec.projection:
    flat = traverse_util.flatten_dict(trainable, sep='/')
    return {layer: (flat[f'{layer}/{KEY}'], flat[f'{layer}/{VALUE}']) for layer in spec.layers}
  hidden = jnp.tanh(trainable[EMBEDDING] @ trainable[HIDDEN]['kernel']
                    + trainable[HIDDEN]['bias'])
  return _split(spec, hidden @ trainable[OUT]['kernel'] + trainable[OUT]['bias'])


def _split(spec: PrefixSpec, flat) -> dict:
  """(P, L * 2 * H * D) in peft's past_key_values layout (layer-major, then key/value, then
  heads) -> attention layer path -> (key, value)."""
  kv = flat.reshape(spec.num_virtual_tokens, len(spec.layers), 2, spec.num_heads, spec.head_dim)
  return {layer: (kv[:, i, 0], kv[:, i, 1]) for i, layer in enumerate(spec.layers)}


def from_peft_layout(spec: PrefixSpec, flat) -> dict:
  """The trainable tree (no MLP) of peft's prefix embedding (P, L * 2 * H * D), whose layers are
  spec.layers in order: what peft's PrefixEncoder without projection stores."""
  return _tree(_split(spec, jnp.asarray(flat, jnp.float32)))


def folded(spec: PrefixSpec, trainable: dict) -> dict:
  """The same prefixes without the MLP: the tree a `projection=False` spec reads."""
  return _tree(key_values(spec, trainable))


def _tree(key_values_by_layer: dict) -> dict:
  flat = {}
  for layer, (key, value) in key_values_by_layer.items():
    flat[f'{layer}/{KEY}'], flat[f'{layer}/{VALUE}'] = key, value
  return traverse_util.unflatten_dict(flat, sep='/')


def insert(spec: PrefixSpec, params: dict, trainable: dict) -> dict:
  """`params` with each attention layer's `prefix_key` and `prefix_value` in place: the model
  then attends to the prefixes (traceable; used inside the train step and for evaluation)."""
  flat = traverse_util.flatten_dict(params, sep='/')
  for layer, (key, value) in key_values(spec, trainable).items():
    flat[f'{layer}/{PREFIX_KEY}'], flat[f'{layer}/{PREFIX_VALUE}'] = key, value
  return traverse_util.unflatten_dict(flat, sep='/')
