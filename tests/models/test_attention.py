"""Masks and attention: causal masking leaks nothing, padded encoder positions change nothing."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.models import attention
from lm_jax.models.attention import (MultiHeadAttention, combine_masks, make_attention_mask,
                                     make_causal_mask)
from lm_jax.models.t5 import T5, T5Config

TINY = T5Config(vocab_size=64, d_model=32, num_heads=4, head_dim=8, d_ff=64,
                num_encoder_layers=2, num_decoder_layers=2, feed_forward='gated-gelu',
                tie_embeddings=False, dropout_rate=0.0)


def test_mask_shapes_and_values():
  query = jnp.array([[5, 6, 0]])
  key = jnp.array([[7, 0, 8, 0]])
  padding = make_attention_mask(query, key)
  assert padding.shape == (1, 1, 3, 4) and padding.dtype == jnp.bool_
  # Keys are masked by pad id; queries never are (T5 decoders start with pad id 0).
  np.testing.assert_array_equal(padding[0, 0], np.tile([True, False, True, False], (3, 1)))
  causal = make_causal_mask(jnp.zeros((2, 3), jnp.int32))
  assert causal.shape == (2, 1, 3, 3)
  np.testing.assert_array_equal(causal[1, 0], np.tril(np.ones((3, 3), bool)))
  tokens = jnp.array([[4, 5, 0]])
  combined = combine_masks(make_causal_mask(tokens), make_attention_mask(tokens, tokens), None)
  np.testing.assert_array_equal(combined[0, 0], [[1, 0, 0], [1, 1, 0], [1, 1, 0]])
  assert combine_masks(None, None) is None


def _attention_jacobian(mask):
  """d out[t] / d in[s] summed over features: (T_q, T_k) influence matrix."""
  layer = MultiHeadAttention(num_heads=2, head_dim=4)
  x = jax.random.normal(jax.random.key(0), (1, 5, 8))
  variables = layer.init(jax.random.key(1), x, x, mask)
  jac = jax.jacobian(lambda x: layer.apply(variables, x, x, mask))(x)  # (1, T, F, 1, T, F)
  return np.abs(np.asarray(jac[0, :, :, 0])).sum(axis=(1, 3))


def test_causal_attention_gradient_has_no_future_terms():
  influence = _attention_jacobian(make_causal_mask(jnp.ones((1, 5), jnp.int32)))
  assert np.all(influence[np.triu_indices(5, k=1)] == 0.0)
  assert np.all(influence[np.tril_indices(5)] > 0.0)
  # Control: the same check fails without the mask.
  assert np.all(_attention_jacobian(None)[np.triu_indices(5, k=1)] > 0.0)


def test_t5_decoder_logits_do_not_depend_on_future_inputs():
  # Distinct token ids per position so that each decoder embedding row belongs to one position;
  # untied head so that the embedding table only enters through the input lookups.
  model = T5(TINY)
  encoder_tokens = jnp.array([[40, 41, 42, 43]])
  decoder_tokens = jnp.array([[0, 11, 12, 13, 14, 15]])
  variables = model.init(jax.random.key(0), encoder_tokens, decoder_tokens)

  def logits_per_position(embedding):
    params = {**variables['params'], 'token_embedder': {'embedding': embedding}}
    return model.apply({'params': params}, encoder_tokens, decoder_tokens)[0].sum(-1)  # (T_dec,)

  embedding = variables['params']['token_embedder']['embedding']
  jac = jax.jit(jax.jacrev(logits_per_position))(embedding)  # (T_dec, vocab, d_model)
  influence = np.abs(np.asarray(jac)).sum(axis=-1)  # (T_dec, vocab)
  for t in range(decoder_tokens.shape[1]):
    assert np.all(influence[t, decoder_tokens[0, t + 1:]] == 0.0), f'position {t} sees the future'
    assert np.all(influence[t, decoder_tokens[0, :t + 1]] > 0.0)
    assert np.all(influence[t, encoder_tokens[0]] > 0.0)


def test_padded_encoder_positions_do_not_change_logits():
  model = T5(TINY)
  short = jnp.array([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]])
  long = jnp.pad(short, ((0, 0), (0, 4)))  # more padding at the end
  decoder_tokens = jnp.array([[0, 3, 4], [0, 5, 0]])
  variables = model.init(jax.random.key(0), short, decoder_tokens)
  logits = model.apply(variables, short, decoder_tokens)
  # Longer padding changes float32 summation order only (~1e-6 on some CPUs).
  np.testing.assert_allclose(model.apply(variables, long, decoder_tokens), logits, atol=1e-5)

  # Encoder self-attention: real positions ignore the padding.
  encoded = model.apply(variables, short, method=T5.encode)
  encoded_long = model.apply(variables, long, method=T5.encode)
  np.testing.assert_allclose(encoded_long[0, :3], encoded[0, :3], atol=1e-6)
  # Cross-attention: anything at padded encoder positions is invisible to the decoder.
  noise = 100.0 * jax.random.normal(jax.random.key(1), encoded.shape)
  padded = (short == 0)[..., None]
  perturbed = jnp.where(padded, encoded + noise, encoded)
  np.testing.assert_allclose(
      model.apply(variables, perturbed, short, decoder_tokens, method=T5.decode), logits,
      atol=1e-6)
  # Control: perturbing a real position does change the logits.
  changed = model.apply(variables, encoded + noise, short, decoder_tokens, method=T5.decode)
  assert not np.allclose(changed, logits, atol=1e-3)


@pytest.mark.parametrize('batch', [1, 3, 8])
def test_shared_bias_gradient_equals_autodiff_of_broadcast_add(batch):
  scores = jax.random.normal(jax.random.key(0), (batch, 2, 5, 7))
  bias = jax.random.normal(jax.random.key(1), (1, 2, 5, 7))
  weights = jax.random.normal(jax.random.key(2), (batch, 2, 5, 7))
  ours = jax.grad(lambda s, b: jnp.sum(jnp.tanh(attention.add_shared_bias(s, b)) * weights),
                  argnums=(0, 1))(scores, bias)
  reference = jax.grad(lambda s, b: jnp.sum(jnp.tanh(s + b) * weights), argnums=(0, 1))(scores,
                                                                                        bias)
  for a, b in zip(ours, reference):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_prompt_flags_belong_to_cached_self_attention_only():
  attention_layer = MultiHeadAttention(num_heads=2, head_dim=4)
  x = jnp.ones((1, 3, 8))
  variables = attention_layer.init(jax.random.key(0), x, x)
  prompt = jnp.ones((1, 3), jnp.int32)
  with pytest.raises(ValueError, match='prefix marks the prompt of cached self-attention'):
    attention_layer.apply(variables, x, x, prefix=prompt)  # a full pass: the mask says it
  cross = MultiHeadAttention(num_heads=2, head_dim=4, static_kv=True)
  with pytest.raises(ValueError, match='prefix marks the prompt of cached self-attention'):
    cross.apply(variables, x, x, decode=True, prefix=prompt, mutable=['cache'])
