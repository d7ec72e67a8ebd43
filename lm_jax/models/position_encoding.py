"""Absolute and rotary position information, for every family: the sinusoidal encoding of
Vaswani et al. (2017), learned position tables, rotary embeddings (RoFormer, Su et al. 2021).
T5's relative position bias is in relative_position.py."""
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp

Dtype = Any

# 'rope' adds nothing to the embeddings; MultiHeadAttention(rope_base=...) rotates queries/keys.
POSITION_EMBEDDINGS = ('learned', 'sinusoidal', 'rope')


def sinusoidal_position_encoding(positions, d_model: int, max_timescale: float = 10_000.0):
  """(..., T) int positions -> (..., T, d_model) float32, exactly §3.5 of the paper:

  PE(pos, 2i) = sin(pos / 10000^(2i / d_model)), PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model)).
  Even and odd features interleave, as the formula says (tensor2tensor concatenates the sin and
  cos halves instead, a permutation of the same features).
  """
  if d_model % 2:
    raise ValueError(f'The sinusoidal encoding needs an even d_model, got {d_model}.')
  two_i = jnp.arange(0, d_model, 2, dtype=jnp.float32)  # (d_model / 2,)
  angles = positions[..., None].astype(jnp.float32) / max_timescale**(two_i / d_model)
  return jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(
      *positions.shape, d_model)


def apply_rotary_embedding(x, positions, base: float = 10_000.0):
  """Rotates query or key heads x (B, T, H, D) by their positions (B, T).

  The rotate-half layout of GPT-NeoX and Llama: feature j pairs with j + D/2, and the pair turns
  by angle pos * base^(-2j/D). Computed in float32 and cast back, so bf16 keeps exact angles.
  """
  head_dim = x.shape[-1]
  if head_dim % 2:
    raise ValueError(f'Rotary embeddings need an even head_dim, got {head_dim}.')
  inverse_frequency = base**(-jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim)
  angles = positions[..., None].astype(jnp.float32) * inverse_frequency  # (B, T, D/2)
  cos = jnp.concatenate([jnp.cos(angles)] * 2, axis=-1)[:, :, None, :]  # (B, T, 1, D)
  sin = jnp.concatenate([jnp.sin(angles)] * 2, axis=-1)[:, :, None, :]
  x32 = x.astype(jnp.float32)
  first, second = jnp.split(x32, 2, axis=-1)
  rotated_half = jnp.concatenate([-second, first], axis=-1)
  return (x32 * cos + rotated_half * sin).astype(x.dtype)


class PositionEmbedding(nn.Module):
  """Absolute position vectors (B, T, d_model) for 'learned' (a table of max_length rows, init
  normal(init_std)) or 'sinusoidal'; None for 'rope' and T5's 'relative', which act inside
  attention. The families name it 'position_embedder', its table 'embedding'."""
  kind: str
  max_length: int
  d_model: int
  init_std: float
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, positions):
    if self.kind == 'learned':
      table = self.param('embedding', nn.initializers.normal(self.init_std),
                         (self.max_length, self.d_model), jnp.float32)
      return jnp.take(table, positions, axis=0).astype(self.dtype)
    if self.kind == 'sinusoidal':
      return sinusoidal_position_encoding(positions, self.d_model).astype(self.dtype)
    if self.kind in ('rope', 'relative'):
      return None
    raise ValueError(f'Unknown position embedding {self.kind!r}; use one of '
                     f"{(*POSITION_EMBEDDINGS, 'relative')}.")


def check_length(position_embedding: str, max_length: int, length: int, what: str) -> None:
  """Learned tables silently clamp out-of-range positions under jit; refuse them instead."""
  if position_embedding == 'learned' and length > max_length:
    raise ValueError(f'{what} has length {length} but the learned position table has '
                     f'config.model.max_length={max_length} rows; shorten the sequence or '
                     'raise max_length.')


def default_positions(tokens, positions, offset: int = 0):
  """Packed batches carry their positions; otherwise 0..T-1 for every row. `offset` shifts
  either by the P prefix-tuning keys in front of the tokens (they act as P earlier tokens)."""
  if positions is None:
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[-1], dtype=jnp.int32), tokens.shape)
  return positions + offset if offset else positions


class PositionOptions:
  """Mixin for model configs with `position_embedding`, `d_model`, `head_dim` and `rope_base`:
  the checks and the rotary base every family with these options shares."""

  def require_position_options(self) -> None:
    self.require(self.rope_base > 0, 'rope_base', 'must be > 0')
    # Sinusoids pair up model dimensions, rotary embeddings head dimensions.
    self.require(self.position_embedding != 'sinusoidal' or self.d_model % 2 == 0, 'd_model',
                 'must be even for sinusoidal positions')
    self.require(self.position_embedding != 'rope' or self.head_dim % 2 == 0, 'head_dim',
                 'must be even for rotary embeddings')

  @property
  def rope(self) -> Optional[float]:
    """The rotary base self-attention applies, or None without rotary embeddings."""
    return self.rope_base if self.position_embedding == 'rope' else None
