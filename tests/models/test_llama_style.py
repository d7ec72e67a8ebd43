"""The Llama-style options of the GPT family: grouped-query attention is multi-head attention
with each key/value head copied to its group, SwiGLU is silu(x W_gate) * (x W_up) W_down,
RMSNorm has no bias, and configs/llama_style.py:tiny decodes the same with and without the
KV cache."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax import models
from lm_jax.config.schema import load_config
from lm_jax.generation import decoding
from lm_jax.models.attention import MultiHeadAttention
from lm_jax.models.layers import MlpBlock


def test_grouped_query_attention_is_mha_with_shared_key_value_heads():
  heads, kv_heads, dim = 4, 2, 8
  x = jax.random.normal(jax.random.key(0), (2, 5, 16))
  gqa = MultiHeadAttention(heads, dim, scale_scores=True, num_kv_heads=kv_heads)
  params = gqa.init(jax.random.key(1), x, x)['params']
  assert params['key']['kernel'].shape == (16, kv_heads * dim)

  def repeat(kernel):  # (16, kv x dim) -> (16, heads x dim), each kv head copied to its group
    grouped = kernel.reshape(16, kv_heads, 1, dim)
    return jnp.broadcast_to(grouped, (16, kv_heads, heads // kv_heads, dim)).reshape(16, -1)
  mha_params = {**params, 'key': {'kernel': repeat(params['key']['kernel'])},
                'value': {'kernel': repeat(params['value']['kernel'])}}
  mha = MultiHeadAttention(heads, dim, scale_scores=True)
  mask = jnp.tril(jnp.ones((5, 5), bool))[None, None]
  np.testing.assert_allclose(gqa.apply({'params': params}, x, x, mask),
                             mha.apply({'params': mha_params}, x, x, mask), rtol=1e-5, atol=1e-6)


def test_heads_that_do_not_group_are_refused():
  model_config = load_config('configs/llama_style.py:tiny').model
  model_config.num_kv_heads = 3  # 4 query heads do not form groups of 3
  with pytest.raises(ValueError, match='num_kv_heads'):
    models.build_model(model_config)


def test_swiglu_is_silu_gate_times_up_projection():
  x = jax.random.normal(jax.random.key(0), (2, 3, 8))
  block = MlpBlock(16, 'swiglu', init_std=0.5)
  params = block.init(jax.random.key(1), x, True)['params']

  def silu(z):
    return z / (1 + np.exp(-z))
  xs = np.asarray(x)
  expected = (silu(xs @ np.asarray(params['wi_0']['kernel']))
              * (xs @ np.asarray(params['wi_1']['kernel']))) @ np.asarray(params['wo']['kernel'])
  np.testing.assert_allclose(block.apply({'params': params}, x, True), expected, rtol=1e-5,
                             atol=1e-6)


def test_llama_tiny_decodes_the_same_with_and_without_the_cache():
  config = load_config('configs/llama_style.py:tiny')
  model = models.build_model(config.model)
  tokens = jnp.asarray([[0, 5, 9, 11], [0, 7, 3, 2]], jnp.int32)
  params = model.init(jax.random.key(0), tokens)['params']
  assert 'bias' not in params['final_norm'] and 'lm_head' in params  # RMSNorm; untied head
  assert params['layers_0']['self_attention']['key']['kernel'].shape == (64, 2 * 16)
  cached = decoding.generate(model, {'params': params}, tokens, max_new_tokens=8, eos_id=-1)
  full = decoding.generate(model, {'params': params}, tokens, max_new_tokens=8, eos_id=-1,
                           use_cache=False)
  np.testing.assert_array_equal(cached, full)
