"""Attention masks (padding, causal, packing, prefix LM) and multi-head dot-product attention
with an optional key/value cache for one-token-at-a-time decoding."""
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from lm_jax.models.layers import Dropout, rows_of
from lm_jax.models.position_encoding import apply_rotary_embedding

Array = Any
Dtype = Any

PAD_ID = 0
IMPLEMENTATIONS = ('exact', 'fused')
# Prefix tuning's trained keys and values (P, H, D), stored among an attention layer's params.
PREFIX_KEY, PREFIX_VALUE = 'prefix_key', 'prefix_value'
# Decoding's 'cache' entries of an attention layer: self-attention's keys and values, its write
# index and which slots hold a prefix LM's prompt; cross-attention's (static_kv) keys and values.
CACHED_KEY, CACHED_VALUE, CACHE_INDEX = 'cached_key', 'cached_value', 'cache_index'
CACHED_PREFIX = 'cached_prefix'
STATIC_KEY, STATIC_VALUE = 'static_key', 'static_value'


def prefix_length_of(params) -> int:
  """P, the length of the key/value prefixes (prefix tuning) the attention layers in `params`
  hold; 0 without."""
  return rows_of(params, PREFIX_KEY)


def prefix_length(module: nn.Module) -> int:
  """P for the attention layers under `module`. A stack shifts its tokens' positions by it: the
  prefixes act as P past tokens, as in HF/peft."""
  return prefix_length_of(module.variables.get('params', {}))


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


def make_segment_mask(query_segment_ids: Array, key_segment_ids: Array) -> Array:
  """Packing mask (B, 1, T_q, T_k): True where query and key belong to the same segment.

  Padding (segment 0) attends only to padding, which keeps its softmax finite; the loss ignores it.
  """
  return (query_segment_ids[..., :, None] == key_segment_ids[..., None, :])[..., None, :, :]


def make_prefix_lm_mask(causal_attention: Array) -> Array:
  """(B, 1, T, T) True where query and key both lie in the prefix (T5X `decoder_causal_attention`):
  a prefix LM reads its inputs bidirectionally and generates the rest causally."""
  prefix = causal_attention.astype(jnp.bool_)
  return (prefix[..., :, None] & prefix[..., None, :])[..., None, :, :]


def make_decoder_mask(tokens: Array, segment_ids: Optional[Array] = None,
                      causal_attention: Optional[Array] = None) -> Array:
  """Self-attention mask of decoder-only models: causal, bidirectional over a prefix, within segments.

  Padding is not masked by token id: id 0 is a real token in GPT-2's vocabulary and the BOS of
  lm_jax's shifted inputs; segment ids mark padding when a batch has any.
  """
  mask = make_causal_mask(tokens)
  if causal_attention is not None:
    mask = jnp.logical_or(mask, make_prefix_lm_mask(causal_attention))
  if segment_ids is not None:
    mask = jnp.logical_and(mask, make_segment_mask(segment_ids, segment_ids))
  return mask


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


def _fused_implementation(dtype) -> str:
  """cuDNN flash attention where it exists (GPU, 16-bit inputs); XLA's own kernel elsewhere."""
  if jax.default_backend() == 'gpu' and jnp.dtype(dtype).itemsize == 2:
    return 'cudnn'
  return 'xla'


class MultiHeadAttention(nn.Module):
  """Multi-head attention; T5 by default, GPT/BERT/Vaswani with `scale_scores` and `use_bias`.

  `scale_scores=False` is T5: no 1/sqrt(head_dim) on the scores, the query initialiser absorbs
  it (Mesh TensorFlow / T5X). `init_std` None keeps T5's fan-in initialisers; a value gives every
  projection normal(init_std) and the output `out_init_std` (GPT-2 shrinks residual outputs).
  `implementation='fused'` calls `jax.nn.dot_product_attention` (cuDNN flash attention on GPU);
  'exact' spells the math out and is what dropout on the probabilities needs.
  `rope_base` rotates queries and keys by their positions (rotary embeddings).
  `num_kv_heads` < num_heads is grouped-query attention (Ainslie et al. 2023): keys and values
  have that many heads, each shared by num_heads / num_kv_heads queries, and the KV cache holds
  only them; None is multi-head attention.

  With `decode=True` keys and values of earlier calls are kept in the 'cache' collection: the
  first (initialising) call sizes the cache from its inputs' length, later calls append their
  T_new tokens at `cache_index` and attend causally to everything cached.

  A prefix LM's prompt is read bidirectionally under decode=True too: `prefix` (B, T_q) marks
  the call's prompt tokens, the cache remembers which slots hold prompt tokens
  ('cached_prefix'), and a prompt token sees every cached prompt token, before or after it. A
  whole prompt fed in one call is thus read as in training, and a prompt token fed again later
  computes the same keys and values.

  `static_kv=True` is cross-attention, whose keys and values come from a sequence fixed for the
  whole decoding (the encoder output): with `decode=True` they are projected on a call that
  passes `inputs_kv` and kept in the cache ('static_key', 'static_value'); a call with
  `inputs_kv=None` reads them from there, so a decoding step projects only its own queries.

  Params `prefix_key` and `prefix_value` (P, H, D), when present, are prefix tuning's (Li & Liang
  2021): every query also attends to them, in front of the real keys (and of the cache: they
  stay out of it). `bias` must then cover the P + T_k keys (the stack's job, lm_jax/peft/prefix.py).
  """
  num_heads: int
  head_dim: int
  dropout_rate: float = 0.0
  scale_scores: bool = False
  use_bias: bool = False
  init_std: Optional[float] = None
  out_init_std: Optional[float] = None
  rope_base: Optional[float] = None
  implementation: str = 'exact'
  dtype: Dtype = jnp.float32
  num_kv_heads: Optional[int] = None
  static_kv: bool = False

  @nn.compact
  def __call__(self, inputs_q, inputs_kv, mask=None, bias=None, deterministic: bool = True, *,
               query_positions=None, key_positions=None, decode: bool = False, prefix=None):
    """inputs_q (B, T_q, d_model), inputs_kv (B, T_k, d_model) (None: the cached ones of a
    static_kv layer), mask (B, 1, T_q, T_k) bool, bias additive (1 or B, H, T_q, T_k), positions
    (B, T) for rotary embeddings, prefix (B, T_q) the prompt tokens of a prefix LM (decode=True
    only); returns (B, T_q, d_model)."""
    if self.implementation not in IMPLEMENTATIONS:
      raise ValueError(f'Unknown attention implementation {self.implementation!r}; use one of '
                       f'{IMPLEMENTATIONS}.')
    d_model = inputs_q.shape[-1]
    inner_dim = self.num_heads * self.head_dim

    def dense(features, std, name):
      return nn.Dense(features, use_bias=self.use_bias, dtype=self.dtype,
                      param_dtype=jnp.float32, kernel_init=nn.initializers.normal(std), name=name)

    if self.init_std is None:
      # HF T5 init; the extra head_dim**-0.5 on the query stands in for the unscaled scores.
      query_std = d_model**-0.5 * (1.0 if self.scale_scores else self.head_dim**-0.5)
      key_std = value_std = d_model**-0.5
      out_std = inner_dim**-0.5
    else:
      query_std = key_std = value_std = self.init_std
      out_std = self.init_std if self.out_init_std is None else self.out_init_std
    kv_heads = self.num_kv_heads or self.num_heads
    if self.num_heads % kv_heads:
      raise ValueError(f'num_heads={self.num_heads} must be a multiple of num_kv_heads='
                       f'{kv_heads}: each key/value head serves a whole group of query heads.')

    def heads(x, n):
      return x.reshape(*x.shape[:-1], n, self.head_dim)
    query = heads(dense(inner_dim, query_std, 'query')(inputs_q), self.num_heads)  # (B, T_q, H, D)
    kv_dim = kv_heads * self.head_dim
    if inputs_kv is None:
      key, value = self._static_keys_values(decode)  # (B, T_k, H_kv, D) each
    else:
      key = heads(dense(kv_dim, key_std, 'key')(inputs_kv), kv_heads)  # (B, T_k, H_kv, D)
      value = heads(dense(kv_dim, value_std, 'value')(inputs_kv), kv_heads)  # (B, T_k, H_kv, D)
      if self.static_kv and decode:
        self._keep_static_keys_values(key, value)
    if self.rope_base is not None:
      if query_positions is None or key_positions is None:
        raise ValueError('Rotary embeddings need query_positions and key_positions.')
      query = apply_rotary_embedding(query, query_positions, self.rope_base)
      key = apply_rotary_embedding(key, key_positions, self.rope_base)
    cached_self_attention = decode and not self.static_kv
    if prefix is not None and not cached_self_attention:
      raise ValueError('prefix marks the prompt of cached self-attention (decode=True); a full '
                       'pass takes the prefix LM\'s bidirectional reading from its mask.')
    if cached_self_attention:
      key, value, mask = self._cached_keys_values(key, value, mask, prefix)
    if kv_heads != self.num_heads:  # each key/value head to its group of query heads
      key = jnp.repeat(key, self.num_heads // kv_heads, axis=2)
      value = jnp.repeat(value, self.num_heads // kv_heads, axis=2)
    if self.has_variable('params', PREFIX_KEY):
      key, value, mask = self._with_prefix(key, value, mask)
    if bias is not None and bias.shape[-1] != key.shape[1]:
      raise ValueError(f'The attention bias covers {bias.shape[-1]} keys but there are '
                       f'{key.shape[1]} (prefix keys included).')

    use_fused = self.implementation == 'fused' and (deterministic or self.dropout_rate == 0.0)
    if use_fused:
      out = jax.nn.dot_product_attention(
          query, key, value, bias=bias, mask=mask,
          scale=self.head_dim**-0.5 if self.scale_scores else 1.0,
          implementation=_fused_implementation(self.dtype))
    else:
      out = self._exact_attention(query, key, value, mask, bias, deterministic)
    out = out.reshape(*out.shape[:-2], inner_dim)  # (B, T_q, H * D)
    return dense(d_model, out_std, 'out')(out)

  def _exact_attention(self, query, key, value, mask, bias, deterministic):
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
    return jnp.einsum('bhqk,bkhd->bqhd', probs, value)  # (B, T_q, H, D)

  def _with_prefix(self, key, value, mask):
    """Prepends the trained prefix to keys and values (B, T_k, H, D); all queries see it."""
    def prepend(name, x):
      prefix = self.get_variable('params', name).astype(x.dtype)  # (P, H, D)
      return jnp.concatenate([jnp.broadcast_to(prefix, (x.shape[0], *prefix.shape)), x], axis=1)
    length = self.get_variable('params', PREFIX_KEY).shape[0]
    if mask is not None:
      visible = jnp.ones((*mask.shape[:-1], length), jnp.bool_)
      mask = jnp.concatenate([visible, mask], axis=-1)
    return prepend(PREFIX_KEY, key), prepend(PREFIX_VALUE, value), mask

  def _keep_static_keys_values(self, key, value):
    for name, x in ((STATIC_KEY, key), (STATIC_VALUE, value)):
      self.variable('cache', name, jnp.zeros, x.shape, x.dtype).value = x

  def _static_keys_values(self, decode: bool):
    if not (self.static_kv and decode and self.has_variable('cache', STATIC_KEY)):
      raise ValueError('inputs_kv=None reads the keys and values a static_kv attention layer '
                       'cached under decode=True; call it with inputs_kv first.')
    return self.get_variable('cache', STATIC_KEY), self.get_variable('cache', STATIC_VALUE)

  def _cached_keys_values(self, key, value, mask, prefix=None):
    """Appends this call's keys/values to the cache; returns the whole cache and its mask."""
    initialised = self.has_variable('cache', CACHED_KEY)
    cached_key = self.variable('cache', CACHED_KEY, jnp.zeros, key.shape, key.dtype)
    cached_value = self.variable('cache', CACHED_VALUE, jnp.zeros, value.shape, value.dtype)
    index = self.variable('cache', CACHE_INDEX, lambda: jnp.zeros((), jnp.int32))
    if prefix is not None:
      cached_prefix = self.variable('cache', CACHED_PREFIX, jnp.zeros, prefix.shape, jnp.bool_)
    if not initialised:
      # The initialising call only sizes the cache; it attends over its inputs as given.
      return key, value, mask
    new_length, max_length = key.shape[1], cached_key.value.shape[1]
    start = index.value
    cached_key.value = jax.lax.dynamic_update_slice(cached_key.value, key, (0, start, 0, 0))
    cached_value.value = jax.lax.dynamic_update_slice(cached_value.value, value,
                                                      (0, start, 0, 0))
    index.value = start + new_length
    # Query i of this call sits at position start + i and sees cached positions <= its own.
    query_at = start + jnp.arange(new_length)[:, None]
    cache_mask = (jnp.arange(max_length)[None, :] <= query_at)[None, None]  # (1, 1, T_new, max)
    if prefix is not None:
      prefix = prefix.astype(jnp.bool_)
      cached_prefix.value = jax.lax.dynamic_update_slice(cached_prefix.value, prefix, (0, start))
      both = prefix[:, None, :, None] & cached_prefix.value[:, None, None, :]  # (B, 1, T_new, max)
      cache_mask = jnp.logical_or(cache_mask, both)
    if mask is not None:
      cache_mask = jnp.logical_and(cache_mask, mask)
    return cached_key.value, cached_value.value, cache_mask
