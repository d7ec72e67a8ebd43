"""Bert: bidirectional attention, padding and segments leak nothing, config variants and
validation, parameter counts."""
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from lm_jax.models import build_model
from lm_jax.models.bert import Bert, BertConfig

TINY = BertConfig(vocab_size=64, d_model=32, num_heads=4, head_dim=8, d_ff=64, num_layers=2,
                  max_length=16, dropout_rate=0.0, attention_dropout_rate=0.0)
VARIANTS = {
    'post-LN learned': {},
    'pre-LN': dict(norm_position='pre'),
    'rope': dict(position_embedding='rope'),
    'sinusoidal': dict(position_embedding='sinusoidal'),
    'fused': dict(attention_impl='fused'),
}


def _init(cfg, tokens, seed=0):
  model = Bert(cfg)
  return model, model.init(jax.random.key(seed), tokens)


def _influence(cfg, tokens, segment_ids=None):
  """(T, T) matrix: |d encode(x)[t] / d embedding of the token at s|, summed over features.

  Each position holds a distinct token id, so the embedding row of a token belongs to one
  position; `encode` has no tied output layer, so the table only enters through the lookups.
  Outputs are projected on a random direction: their plain sum is constant after a LayerNorm.
  """
  model, variables = _init(cfg, tokens)
  direction = jax.random.normal(jax.random.key(7), (cfg.d_model,))

  def encoded_per_position(embedding):
    params = {**variables['params'], 'token_embedder': {'embedding': embedding}}
    encoded = model.apply({'params': params}, tokens, segment_ids, method=Bert.encode)
    return encoded[0] @ direction  # (T,)

  jac = jax.jit(jax.jacrev(encoded_per_position))(variables['params']['token_embedder']
                                                  ['embedding'])  # (T, vocab, d_model)
  return np.abs(np.asarray(jac)).sum(-1)[:, tokens[0]]  # (T, T)


@pytest.mark.parametrize('variant', ['post-LN learned', 'pre-LN', 'rope'])
def test_every_real_position_influences_every_other(variant):
  cfg = dataclasses.replace(TINY, **VARIANTS[variant])
  influence = _influence(cfg, jnp.array([[11, 12, 13, 14, 15, 16]]))
  assert np.all(influence > 0.0), 'attention is not bidirectional'


def test_segment_ids_confine_attention():
  tokens = jnp.array([[11, 12, 13, 14, 15, 0]])
  segments = jnp.array([[1, 1, 1, 2, 2, 0]])
  influence = _influence(TINY, tokens, segments)[:5, :5]
  same = np.asarray(segments[0, :5, None] == segments[0, None, :5])
  assert np.all(influence[~same] == 0.0), 'attention leaks across segments'
  assert np.all(influence[same] > 0.0)
  # Control: without segment ids the two documents see each other.
  assert np.all(_influence(TINY, tokens)[:5, :5] > 0.0)


@pytest.mark.parametrize('variant', list(VARIANTS))
def test_padded_positions_change_nothing(variant):
  cfg = dataclasses.replace(TINY, **VARIANTS[variant])
  short = jnp.array([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]])
  real = np.asarray(short != 0)
  model, variables = _init(cfg, short)
  logits = model.apply(variables, short)
  # More padding at the end: only float32 summation order changes.
  longer = model.apply(variables, jnp.pad(short, ((0, 0), (0, 4))))[:, :5]
  np.testing.assert_allclose(np.asarray(longer)[real], np.asarray(logits)[real], atol=1e-5)

  # Whatever is embedded at padded positions (the pad row, their token types, their
  # positions' rows) is invisible to the real ones.
  params = variables['params']
  noise = lambda key, x: x + 10.0 * jax.random.normal(jax.random.key(key), x.shape)
  token_table = params['token_embedder']['embedding']
  perturbed = {**params, 'token_embedder': {'embedding': token_table.at[0].set(
      noise(1, token_table[0]))}}
  if 'position_embedder' in params:
    table = params['position_embedder']['embedding']
    perturbed['position_embedder'] = {'embedding': table.at[3:].set(noise(2, table[3:]))}
  encode = lambda p, **kw: np.asarray(model.apply({'params': p}, short, method=Bert.encode,
                                                  **kw))
  reference = encode(params)
  np.testing.assert_allclose(
      encode(perturbed, encoder_token_type_ids=jnp.where(short == 0, 1, 0))[real],
      reference[real], atol=1e-5)
  # Control: perturbing a real token's row does change the output.
  real_changed = {**params, 'token_embedder': {'embedding': token_table.at[5].set(
      noise(3, token_table[5]))}}
  assert not np.allclose(encode(real_changed)[real], reference[real], atol=1e-3)


def test_the_attention_mask_follows_a_nonzero_pad_id():
  """Padding is the config's pad id, not 0: ids 3 are invisible, id 0 is a word like any other
  (a BERT imported with pad_token_id=3, or a GPT-2-like vocabulary)."""
  cfg = dataclasses.replace(TINY, pad_token_id=3)
  unpadded = jnp.array([[5, 0, 7, 9]])
  model, variables = _init(cfg, unpadded)
  reference = np.asarray(model.apply(variables, unpadded))
  padded = np.asarray(model.apply(variables, jnp.array([[5, 0, 7, 9, 3, 3]])))
  np.testing.assert_allclose(padded[:, :4], reference, atol=1e-5)
  zero_as_padding = np.asarray(model.apply(variables, jnp.array([[5, 0, 7, 9, 0, 0]])))
  assert not np.allclose(zero_as_padding[:, :4], reference, atol=1e-3)

  classifier = build_model(ml_collections.ConfigDict(
      {**dataclasses.asdict(cfg), 'name': 'bert_classifier', 'num_classes': 3}))
  head_variables = classifier.init(jax.random.key(0), unpadded)
  np.testing.assert_allclose(
      classifier.apply(head_variables, jnp.array([[5, 0, 7, 9, 3, 3]])),
      classifier.apply(head_variables, unpadded), atol=1e-5)  # pooled over the real tokens


@pytest.mark.parametrize('variant', list(VARIANTS))
def test_variants_run(variant):
  cfg = dataclasses.replace(TINY, **VARIANTS[variant])
  tokens = jnp.array([[3, 4, 5, 6, 0, 0]])
  model, variables = _init(cfg, tokens)
  params = variables['params']
  assert ('final_norm' in params) == (cfg.norm_position == 'pre')
  assert 'embedding_norm' in params  # BERT normalises embeddings with either norm position.
  assert ('position_embedder' in params) == (cfg.position_embedding == 'learned')
  logits = model.apply(variables, tokens)
  assert logits.shape == (1, 6, 64) and logits.dtype == jnp.float32
  assert np.all(np.isfinite(logits))
  assert model.apply(variables, tokens, method=Bert.encode).shape == (1, 6, 32)


@pytest.mark.parametrize('norm_position', ['post', 'pre'])
def test_fused_attention_equals_exact(norm_position):
  cfg = dataclasses.replace(TINY, norm_position=norm_position)
  tokens = jnp.array([[3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12]])
  segments = jnp.array([[1, 1, 2, 2, 0, 0], [1, 1, 1, 1, 1, 1]])
  model, variables = _init(cfg, tokens)
  exact = model.apply(variables, tokens, segments)
  fused = Bert(dataclasses.replace(cfg, attention_impl='fused')).apply(variables, tokens,
                                                                       segments)
  np.testing.assert_allclose(fused, exact, atol=1e-5, rtol=1e-5)


def test_dropout_only_with_rng():
  cfg = dataclasses.replace(TINY, dropout_rate=0.1, attention_dropout_rate=0.1)
  tokens = jnp.array([[3, 4, 5, 6, 0, 0]])
  model, variables = _init(cfg, tokens)
  apply = lambda **kw: np.asarray(model.apply(variables, tokens, **kw))
  np.testing.assert_array_equal(apply(), apply())
  first = apply(rngs={'dropout': jax.random.key(1)})
  assert not np.allclose(first, apply())
  assert not np.allclose(first, apply(rngs={'dropout': jax.random.key(2)}))


def test_bfloat16_compute_keeps_float32_params_and_logits():
  tokens = jnp.array([[3, 4, 5, 0]])
  model, variables = _init(dataclasses.replace(TINY, dtype='bfloat16'), tokens)
  assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves(variables))
  logits = model.apply(variables, tokens)
  assert logits.dtype == jnp.float32 and np.all(np.isfinite(logits))
  reference = Bert(TINY).apply(variables, tokens)
  np.testing.assert_allclose(logits, reference, atol=0.1 * np.abs(reference).max())


def test_too_long_input_raises():
  model, variables = _init(TINY, jnp.ones((1, 4), jnp.int32))
  with pytest.raises(ValueError, match=r'length 17.*max_length=16'):
    model.apply(variables, jnp.ones((1, 17), jnp.int32))


def test_build_model_from_config_dict():
  model_config = ml_collections.ConfigDict({'name': 'bert', **dataclasses.asdict(TINY)})
  model = build_model(model_config)
  assert isinstance(model, Bert) and model.config == TINY and Bert.family == 'encoder_only'


@pytest.mark.parametrize('key,value', [('type_vocab_size', 0), ('num_layers', 0),
                                       ('activation', 'swish'), ('norm_position', 'middle'),
                                       ('position_embedding', 'alibi'), ('attention_impl', 'flash'),
                                       ('dropout_rate', 1.0), ('layer_norm_epsilon', 0.0),
                                       ('num_heads', 2.5), ('dtype', 'float16'),
                                       ('pad_token_id', 30522), ('pad_token_id', -1)])
def test_from_model_config_rejects_bad_values(key, value):
  with pytest.raises(ValueError, match=f'config.model.{key}'):
    BertConfig.from_model_config({'name': 'bert', key: value})


def test_from_model_config_rejects_unknown_key_by_name():
  with pytest.raises(ValueError, match=r'config\.model\.type_vocab.*valid keys:.*type_vocab_size'):
    BertConfig.from_model_config({'name': 'bert', 'type_vocab': 2})


def _param_count(cfg: BertConfig) -> int:
  tokens = jax.ShapeDtypeStruct((1, 4), jnp.int32)
  shapes = jax.eval_shape(Bert(cfg).init, jax.random.key(0), tokens)
  return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(shapes))


def test_bert_base_parameter_count():
  # Embeddings (word, position, type, norm) + 12 layers (4 biased d x d projections, 2 biased
  # MLP matrices, 2 norms) + the MLM head (biased d x d transform, norm, output bias).
  d, ff, vocab = 768, 3072, 30522
  formula = ((vocab + 512 + 2) * d + 2 * d
             + 12 * (4 * (d * d + d) + (d * ff + ff) + (ff * d + d) + 4 * d)
             + (d * d + d) + 2 * d + vocab)
  # HF's bert-base-uncased BertForMaskedLM (no pooler): 109,514,298.
  assert _param_count(BertConfig()) == formula == 109_514_298


def test_parameter_count_matches_hf():
  transformers = pytest.importorskip('transformers')
  pytest.importorskip('torch')
  hf = transformers.BertForMaskedLM(transformers.BertConfig(
      vocab_size=TINY.vocab_size, hidden_size=TINY.d_model, num_hidden_layers=TINY.num_layers,
      num_attention_heads=TINY.num_heads, intermediate_size=TINY.d_ff,
      max_position_embeddings=TINY.max_length))
  assert _param_count(TINY) == hf.num_parameters()
