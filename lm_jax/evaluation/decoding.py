"""Greedy decoding for encoder-decoder models (full decoder pass per token; a KV cache comes later)."""
import functools

import jax
import jax.numpy as jnp


@functools.partial(jax.jit, static_argnames=('model', 'max_length', 'eos_id'))
def greedy_decode(model, variables, encoder_input_tokens, *, max_length: int, eos_id: int):
  """Returns (B, max_length) token ids; positions after a sequence's EOS are 0 (pad)."""
  batch = encoder_input_tokens.shape[0]
  encoded = model.apply(variables, encoder_input_tokens, method=model.encode)
  # T5 starts decoding from the pad id; position i of `tokens` is the input for output i.
  tokens = jnp.zeros((batch, max_length + 1), jnp.int32)
  done = jnp.zeros((batch,), bool)

  def step(i, carry):
    tokens, done = carry
    logits = model.apply(variables, encoded, encoder_input_tokens, tokens[:, :-1],
                         method=model.decode)
    next_token = jnp.argmax(logits[:, i], axis=-1).astype(jnp.int32)
    next_token = jnp.where(done, 0, next_token)
    tokens = tokens.at[:, i + 1].set(next_token)
    return tokens, done | (next_token == eos_id)

  tokens, _ = jax.lax.fori_loop(0, max_length, step, (tokens, done))
  return tokens[:, 1:]
