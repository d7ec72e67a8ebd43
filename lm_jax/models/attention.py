"""Attention masks built from token ids, and multi-head dot-product attention."""
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from lm_jax.models.layers import Dropout

Array = Any
Dtype = Any

PAD_ID = 0


def make_attention_mask(query_tokens: Array, key_tokens: Array, pad_id: int = PAD_ID) -> Array:
  """Padding mask (B, 1, T_q, T_k), True where the key is a real token.

  Only keys are masked, as in HF T5: queries cannot be masked by token id because T5 decoder
  inputs start with the pad id used as BOS, and outputs at padded queries are ignored by the loss.
  """
  key_valid = key_tokens != pad_id  # (B, T_k)
  shape = (*query_tokens.shape[:-1], 1, query_tokens.shape[-1], key_tokens.shape[-1])
  return jnp.broadcast_to(key_valid[..., None, None, :], shape)


def make_causal_mask(tokens: Array) -> Array:
  """Causal mask (B, 1, T, T), True where key position <= query position."""
  length = tokens.shape[-1]
  causal = jnp.tril(jnp.ones((length, length), dtype=jnp.bool_))
  return jnp.broadcast_to(causal, (*tokens.shape[:-1], 1, length, length))


def combine_masks(*masks: Optional[Array]) -> Optional[Array]:
  """Logical AND of the masks that are not None (None if all are)."""
  masks = [m for m in masks if m is not None]
  if not masks:
    return None
  combined = masks[0]
  for mask in masks[1:]:
    combined = jnp.logical_and(combined, mask)
  return combined


def _sum_over_batch(x):
  """x.sum(0) by halving: XLA:CPU reduces a leading axis ~50x slower than it adds slices."""
  while x.shape[0] > 1:
    half = x.shape[0] // 2
    x = jnp.concatenate([x[:half] + x[half:2 * half], x[2 * half:]])
  return x[0]


@jax.custom_vjp
def add_shared_bias(scores, bias):
  """scores (B, H, T_q, T_k) + bias (1, H, T_q, T_k) shared across the batch."""
  return scores + bias


def _add_shared_bias_fwd(scores, bias):
  return scores + bias, None


def _add_shared_bias_bwd(_, grad):
  # The bias gradient sums the score gradients over the batch; see _sum_over_batch.
  return grad, _sum_over_batch(grad)[None]


add_shared_bias.defvjp(_add_shared_bias_fwd, _add_shared_bias_bwd)


class MultiHeadAttention(nn.Module):
  """Multi-head attention with bias-free projections, as T5.

  `scale_scores=False` is T5: no 1/sqrt(head_dim) on the scores, the query initialiser absorbs
  it (Mesh TensorFlow / T5X). GPT/BERT-style models set `scale_scores=True`.
  """
  num_heads: int
  head_dim: int
  dropout_rate: float = 0.0
  scale_scores: bool = False
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, inputs_q, inputs_kv, mask=None, bias=None, deterministic: bool = True):
    """inputs_q (B, T_q, d_model), inputs_kv (B, T_k, d_model), mask (B, 1, T_q, T_k) bool,
    bias additive (1 or B, H, T_q, T_k); returns (B, T_q, d_model)."""
    d_model = inputs_q.shape[-1]
    inner_dim = self.num_heads * self.head_dim

    def dense(features, std, name):
      return nn.Dense(features, use_bias=False, dtype=self.dtype, param_dtype=jnp.float32,
                      kernel_init=nn.initializers.normal(std), name=name)

    # HF T5 init; the extra head_dim**-0.5 on the query stands in for the unscaled scores.
    query_std = d_model**-0.5 * (1.0 if self.scale_scores else self.head_dim**-0.5)
    heads = lambda x: x.reshape(*x.shape[:-1], self.num_heads, self.head_dim)
    query = heads(dense(inner_dim, query_std, 'query')(inputs_q))  # (B, T_q, H, D)
    key = heads(dense(inner_dim, d_model**-0.5, 'key')(inputs_kv))  # (B, T_k, H, D)
    value = heads(dense(inner_dim, d_model**-0.5, 'value')(inputs_kv))  # (B, T_k, H, D)
    if self.scale_scores:
      query = query * self.head_dim**-0.5

    # Scores and softmax in float32 for stability under bf16 compute.
    scores = jnp.einsum('bqhd,bkhd->bhqk', query, key).astype(jnp.float32)  # (B, H, T_q, T_k)
    if bias is not None and bias.shape[0] == 1:
      scores = add_shared_bias(scores, bias.astype(jnp.float32))
    elif bias is not None:
      scores = scores + bias.astype(jnp.float32)
    if mask is not None:
      # `where` rather than adding a large negative: fully masked rows stay finite (uniform).
      scores = jnp.where(mask, scores, jnp.finfo(jnp.float32).min)
    probs = nn.softmax(scores, axis=-1).astype(self.dtype)
    probs = Dropout(self.dropout_rate)(probs, deterministic=deterministic)

    out = jnp.einsum('bhqk,bkhd->bqhd', probs, value)  # (B, T_q, H, D)
    out = out.reshape(*out.shape[:-2], inner_dim)  # (B, T_q, H * D)
    return dense(d_model, inner_dim**-0.5, 'out')(out)
