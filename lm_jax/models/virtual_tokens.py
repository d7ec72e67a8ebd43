"""Prompt tuning (Lester et al. 2021) inside a stack: P trained vectors, the `prompt` rows of the
token embedder's params (layers.Embed.with_prompt), go in front of the embedded tokens as P
virtual tokens. This module extends the stack's other inputs to match: the virtual tokens sit at
positions 0..P-1 and the real ones shift to P, P + 1, ... (peft's layout, where the prompt is
prepended to inputs_embeds), and every token attends to them."""
import jax.numpy as jnp

VIRTUAL_ID = -1  # the virtual tokens' id where masks read ids: never padding, never embedded


def in_front(length: int, values, x):
  """`x` (B, T) with `values` (B, length) or a scalar in front: (B, length + T)."""
  if not length:
    return x
  front = jnp.broadcast_to(jnp.asarray(values, x.dtype), (*x.shape[:-1], length))
  return jnp.concatenate([front, x], axis=-1)


def prepend(length: int, tokens, segment_ids=None, positions=None, causal_attention=None):
  """(tokens, segment_ids, positions, causal_attention) with `length` virtual tokens in front
  (None stays None): VIRTUAL_ID tokens, in the row's first segment, at positions 0..P-1 with the
  given ones shifted by P, and inside a prefix LM's bidirectional prefix."""
  if not length:
    return tokens, segment_ids, positions, causal_attention
  tokens = in_front(length, VIRTUAL_ID, tokens)
  if segment_ids is not None:
    segment_ids = in_front(length, segment_ids[..., :1], segment_ids)
  if positions is not None:
    positions = in_front(length, jnp.arange(length), positions + length)
  if causal_attention is not None:
    causal_attention = in_front(length, 1, causal_attention)
  return tokens, segment_ids, positions, causal_attention
