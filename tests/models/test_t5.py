"""T5Config validation, registry dispatch, bf16 compute and parameter counts."""
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from lm_jax.models import build_model
from lm_jax.models.t5 import T5, T5Config

TINY = dict(vocab_size=64, d_model=32, num_heads=4, head_dim=8, d_ff=64,
            num_encoder_layers=2, num_decoder_layers=3)


def _param_count(cfg: T5Config) -> int:
  tokens = jax.ShapeDtypeStruct((1, 4), jnp.int32)
  shapes = jax.eval_shape(T5(cfg).init, jax.random.key(0), tokens, tokens)
  return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(shapes))


def test_build_model_from_config_dict():
  model = build_model(ml_collections.ConfigDict({'name': 't5', **TINY}))
  assert isinstance(model, T5) and model.config == T5Config(**TINY)
  with pytest.raises(ValueError, match=r"'gpt9'.*\['t5'"):
    build_model(ml_collections.ConfigDict({'name': 'gpt9'}))


def test_from_model_config_rejects_unknown_key_by_name():
  with pytest.raises(ValueError, match=r'config\.model\.d_mdoel.*valid keys:.*d_model'):
    T5Config.from_model_config(ml_collections.ConfigDict({'name': 't5', 'd_mdoel': 512}))


@pytest.mark.parametrize('key,value', [('feed_forward', 'swiglu'), ('dtype', 'float16'),
                                       ('dropout_rate', 1.0), ('d_model', 0),
                                       ('num_heads', 2.5), ('relative_attention_max_distance', 8)])
def test_from_model_config_rejects_bad_values(key, value):
  with pytest.raises(ValueError, match=f'config.model.{key}'):
    T5Config.from_model_config({'name': 't5', key: value})


def test_bfloat16_compute_keeps_float32_params_and_logits():
  model = T5(T5Config(**TINY, dtype='bfloat16'))
  encoder_tokens = jnp.array([[3, 4, 5, 0]])
  decoder_tokens = jnp.array([[0, 6, 7]])
  variables = model.init(jax.random.key(0), encoder_tokens, decoder_tokens)
  assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves(variables))
  logits = model.apply(variables, encoder_tokens, decoder_tokens)
  assert logits.shape == (1, 3, 64) and logits.dtype == jnp.float32
  assert np.all(np.isfinite(logits))
  reference = T5(T5Config(**TINY)).apply(variables, encoder_tokens, decoder_tokens)
  np.testing.assert_allclose(logits, reference, atol=0.1 * np.abs(reference).max())


def test_t5_small_parameter_count():
  # Closed form: embeddings + encoder layers (4 attn + 2 mlp matrices, 2 norms) + decoder layers
  # (8 attn + 2 mlp, 3 norms) + a relative bias table and final norm per stack.
  v10 = T5Config()
  d, inner, ff, vocab = 512, 512, 2048, 32128
  formula = (vocab * d + 6 * (4 * d * inner + 2 * d * ff + 2 * d)
             + 6 * (8 * d * inner + 2 * d * ff + 3 * d) + 2 * (32 * 8 + d))
  assert _param_count(v10) == formula == 60_506_624  # HF's t5-small
  v11 = T5Config(d_ff=1024, num_heads=6, num_encoder_layers=8, num_decoder_layers=8,
                 feed_forward='gated-gelu', tie_embeddings=False)
  d, inner, ff = 512, 384, 1024
  formula = (2 * vocab * d + 8 * (4 * d * inner + 3 * d * ff + 2 * d)
             + 8 * (8 * d * inner + 3 * d * ff + 3 * d) + 2 * (32 * 6 + d))
  assert _param_count(v11) == formula == 76_961_152  # HF's google/t5-v1_1-small


def test_parameter_count_matches_hf():
  transformers = pytest.importorskip('transformers')
  pytest.importorskip('torch')
  cfg = T5Config(**TINY)
  hf = transformers.T5ForConditionalGeneration(transformers.T5Config(
      vocab_size=cfg.vocab_size, d_model=cfg.d_model, d_kv=cfg.head_dim, d_ff=cfg.d_ff,
      num_layers=cfg.num_encoder_layers, num_decoder_layers=cfg.num_decoder_layers,
      num_heads=cfg.num_heads))
  assert _param_count(cfg) == hf.num_parameters()
  # The untied v1.1 head adds exactly one vocab x d_model matrix.
  untied = dataclasses.replace(cfg, feed_forward='gated-gelu', tie_embeddings=False)
  assert _param_count(untied) == _param_count(cfg) + cfg.vocab_size * cfg.d_model + (
      (cfg.num_encoder_layers + cfg.num_decoder_layers) * cfg.d_model * cfg.d_ff)
