"""The model calls of a decoding loop, for each model family, through the KV cache or (the
reference) by a full forward pass over the whole token buffer at every step.

A loop keeps a token buffer (N, L): prompt tokens, then generated ones, at their positions. All
rows step in lockstep (the cache has one write index), so row n's logits for position t+1 come
from feeding the buffer's token at position t.
"""
import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

from lm_jax import families
from lm_jax.models.attention import CACHE_INDEX, STATIC_KEY, STATIC_VALUE

Array = Any


def _decoder_only_apply(model, variables) -> Callable:
  def apply(context, tokens, positions, cache):
    # A prefix LM reads its prompt bidirectionally (`prefix`: 1 on the prompt positions).
    prefix = context.get('prefix')
    if cache is None:
      return model.apply(variables, tokens, decoder_causal_attention=prefix), None
    if prefix is not None:  # the fed tokens' flags
      prefix = jnp.take_along_axis(prefix, positions, axis=1)
    logits, state = model.apply({**variables, 'cache': cache}, tokens,
                                decoder_positions=positions, decoder_causal_attention=prefix,
                                decode=True, mutable=['cache'])
    return logits, state['cache']
  return apply


def _encoder_decoder_apply(model, variables) -> Callable:
  def apply(context, tokens, positions, cache):
    # No 'encoded' in a step's context: cross-attention reads the keys and values it cached.
    encoded, encoder_tokens = context.get('encoded'), context['encoder_input_tokens']
    if cache is None:
      return model.apply(variables, encoded, encoder_tokens, tokens, method=model.decode), None
    logits, state = model.apply({**variables, 'cache': cache}, encoded, encoder_tokens, tokens,
                                decoder_positions=positions, decode=True, mutable=['cache'],
                                method=model.decode)
    return logits, state['cache']
  return apply


def _positions(batch: int, start, length: int):
  return jnp.broadcast_to(start + jnp.arange(length, dtype=jnp.int32), (batch, length))


@dataclasses.dataclass(frozen=True)
class ModelRunner:
  """Logits for the next position of every row of a token buffer.

  apply(context, tokens, positions, cache) -> (logits (N, T, V), cache): one model call; cache
    None is a full causal pass from position 0 (positions unused).
  context: per-row arrays the model reads besides the tokens (the encoder output for T5).
  cache_length: the decoder length the cache is sized for; also the buffer prefix that the
    uncached path runs over (the last buffer position is never fed).
  cached_context: the context keys a cached step does without, because the prefill put what
    the model computes from them in the cache (the encoder output: cross-attention's keys and
    values).
  prompt_width: a prefix LM's prompt columns, which the cached prefill feeds whole (0: only
    the columns every row's prompt fills).
  """
  apply: Callable
  context: dict
  cache_length: int
  use_cache: bool
  cached_context: tuple[str, ...] = ()
  prompt_width: int = 0

  def prefill(self, tokens: Array, length: int):
    """Feeds tokens[:, :length] (length static); returns logits (N, V) for position `length`.

    A prefix LM's cached prefill feeds all `prompt_width` columns, so that each prompt is read
    whole, then rewinds the cache's write index to `length`: the steps feed the columns from
    there again (a prompt token computes the same keys and values, a generated one its own).
    """
    if not self.use_cache:
      return self._full_pass(tokens, length - 1), None
    batch = tokens.shape[0]
    cache = self._empty_cache(batch)
    fed = max(length, self.prompt_width)
    logits, cache = self.apply(self.context, tokens[:, :fed], _positions(batch, 0, fed), cache)
    if fed > length:
      cache = _rewind(cache, length)
    return logits[:, length - 1], cache

  def step(self, cache, tokens: Array, t):
    """Feeds the token at position t (traced); returns logits (N, V) for position t + 1."""
    if not self.use_cache:
      return self._full_pass(tokens, t), None
    batch = tokens.shape[0]
    token = jax.lax.dynamic_slice_in_dim(tokens, t, 1, axis=1)  # (N, 1)
    context = {k: v for k, v in self.context.items() if k not in self.cached_context}
    logits, cache = self.apply(context, token, _positions(batch, t, 1), cache)
    return logits[:, 0], cache

  def repeat(self, times: int) -> 'ModelRunner':
    """The runner for each row repeated `times` times in a row (beam search's B * K rows)."""
    context = jax.tree.map(lambda x: jnp.repeat(x, times, axis=0), self.context)
    return dataclasses.replace(self, context=context)

  def _full_pass(self, tokens, index):
    logits, _ = self.apply(self.context, tokens[:, :self.cache_length], None, None)
    return jax.lax.dynamic_index_in_dim(logits, index, axis=1, keepdims=False)

  def _empty_cache(self, batch: int):
    """Zeros shaped like the cache a decode=True call on (batch, cache_length) inputs creates;
    `eval_shape` traces that sizing call without running it."""
    dummy = jnp.zeros((batch, self.cache_length), jnp.int32)
    shapes = jax.eval_shape(
        lambda: self.apply(self.context, dummy, _positions(batch, 0, self.cache_length), {})[1])
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def _rewind(cache, index: int):
  """The cache with every layer's write index set to `index`."""
  def rewind(path, x):
    return jnp.full_like(x, index) if path[-1].key == CACHE_INDEX else x
  return jax.tree_util.tree_map_with_path(rewind, cache)


def repeat_cache(cache, times: int):
  """Each row's cache repeated `times` times in a row; the scalar write index is shared."""
  return jax.tree.map(lambda x: jnp.repeat(x, times, axis=0) if x.ndim else x, cache)


# Cross-attention's keys and values (MultiHeadAttention's static_kv cache): the same for every
# beam of a row, so reordering beams leaves them as they are.
_SAME_FOR_EVERY_BEAM = (STATIC_KEY, STATIC_VALUE)


def select_cache_rows(cache, rows: Array):
  """The cache of rows[i] at row i (beam search's reordering within each row's beams); rows
  (N,) int."""
  def select(path, x):
    if not x.ndim or path[-1].key in _SAME_FOR_EVERY_BEAM:
      return x
    if x.shape[0] != rows.shape[0]:
      raise ValueError(f'Cache entry of shape {x.shape} has no leading batch axis of '
                       f'{rows.shape[0]} rows to reorder.')
    return jnp.take(x, rows, axis=0)
  return jax.tree_util.tree_map_with_path(select, cache)


def make_runner(model, variables, inputs: Array, *, cache_length: int, use_cache: bool,
                prefix_lengths: Array | None = None, prompt_width: int = 0) -> ModelRunner:
  """The runner for the family's prompt layout; `inputs` are the encoder tokens of an encoder-decoder
  (encoded once, here) and unused by decoder-only models (their prompt is in the buffer).

  prefix_lengths (N,): a decoder-only prefix LM's prompt lengths, read bidirectionally as in
  training (T5X `decoder_causal_attention`); prompt_width: the columns the prompts span.
  """
  prompt = families.generating(model).prompt
  if prefix_lengths is not None:
    if prompt != families.DECODER_PROMPT:
      raise ValueError('A bidirectional prompt (prefix_lengths) needs a decoder-only model.')
    prefix = jnp.arange(cache_length) < prefix_lengths[:, None]
    return ModelRunner(_decoder_only_apply(model, variables),
                       {'prefix': prefix.astype(jnp.int32)}, cache_length, use_cache,
                       prompt_width=prompt_width)
  if prompt == families.ENCODER_PROMPT:
    encoded = model.apply(variables, inputs, method=model.encode)
    context = {'encoded': encoded, 'encoder_input_tokens': inputs}
    return ModelRunner(_encoder_decoder_apply(model, variables), context, cache_length,
                       use_cache, cached_context=('encoded',))
  return ModelRunner(_decoder_only_apply(model, variables), {}, cache_length, use_cache)
