"""T5 relative position buckets and the per-stack relative position bias (Raffel et al. §2.1)."""
import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

Initializer = Any


def relative_position_bucket(relative_position, bidirectional: bool = True,
                             num_buckets: int = 32, max_distance: int = 128):
  """Maps `key_position - query_position` to a bucket in [0, num_buckets).

  Same arithmetic as Mesh TensorFlow and HF `T5Attention._relative_position_bucket`: half the
  buckets hold exact small distances, the other half log-spaced distances up to max_distance;
  unidirectional (decoder) folds all future positions into bucket 0.
  """
  buckets = jnp.zeros_like(relative_position)
  if bidirectional:
    num_buckets //= 2
    buckets = buckets + (relative_position > 0).astype(relative_position.dtype) * num_buckets
    distance = jnp.abs(relative_position)
  else:
    distance = -jnp.minimum(relative_position, 0)
  max_exact = num_buckets // 2
  is_small = distance < max_exact
  # max(distance, max_exact) keeps log finite where the small branch is taken anyway.
  ratio = jnp.maximum(distance, max_exact).astype(jnp.float32) / max_exact
  if_large = max_exact + (jnp.log(ratio) / math.log(max_distance / max_exact)
                          * (num_buckets - max_exact)).astype(relative_position.dtype)
  if_large = jnp.minimum(if_large, num_buckets - 1)
  return buckets + jnp.where(is_small, distance, if_large)


class RelativePositionBias(nn.Module):
  """Learned per-head bias over relative position buckets, shared by all layers of a stack.

  HF stores it in the first layer and reuses its output in the others; computing it once per
  stack is the same function.
  """
  num_buckets: int
  max_distance: int
  num_heads: int
  bidirectional: bool
  embedding_init: Initializer = nn.initializers.normal(1.0)

  def setup(self):
    self.embedding = self.param('embedding', self.embedding_init,
                                (self.num_buckets, self.num_heads), jnp.float32)

  def __call__(self, query_length: int, key_length: int, query_offset: int = 0):
    """Returns the additive attention bias (1, H, T_q, T_k), float32 like the scores it joins,
    for queries at positions query_offset, query_offset + 1, ... and keys at 0, 1, ... (an
    offset P puts P prefix-tuning keys in front of the real ones, HF's past-key layout)."""
    context = query_offset + jnp.arange(query_length, dtype=jnp.int32)[:, None]
    memory = jnp.arange(key_length, dtype=jnp.int32)[None, :]
    buckets = relative_position_bucket(memory - context, self.bidirectional,
                                       self.num_buckets, self.max_distance)  # (T_q, T_k)
    # A matmul with a one-hot (buckets, T_q * T_k) matrix rather than a gather (as T5X): the
    # gather's gradient is a scatter that XLA:CPU transposes through a (T_q * T_k, H) layout,
    # costing more than the attention itself; this layout keeps both directions plain matmuls.
    one_hot = (buckets.reshape(1, -1) == jnp.arange(self.num_buckets)[:, None])
    values = self.embedding.T @ one_hot.astype(jnp.float32)  # (H, T_q * T_k)
    return values.reshape(1, self.num_heads, query_length, key_length)

  def at_positions(self, query_positions, key_positions):
    """The bias (B, H, T_q, T_k) between explicit positions, query (B, T_q) and key (T_k,).

    Used when decoding with a cache, where a step's queries sit at arbitrary positions; the
    gather is cheap there (no gradient) and equals `__call__` for query positions 0..T_q-1.
    """
    relative = key_positions[..., None, :] - query_positions[..., :, None]  # (B, T_q, T_k)
    buckets = relative_position_bucket(relative.astype(jnp.int32), self.bidirectional,
                                       self.num_buckets, self.max_distance)
    values = jnp.take(self.embedding, buckets, axis=0)  # (B, T_q, T_k, H)
    return jnp.moveaxis(values, -1, -3)
