"""GPT: causal, packed and prefix-LM masks leak nothing, cached decoding equals the full forward,
every BlockConfig variant runs, bad configs are rejected by key."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from lm_jax.models import build_model
from lm_jax.models.gpt import GPT, GPTConfig

# Untied head: the token embedding table then enters the logits only through the input lookups,
# so d logits / d embedding rows measures which input positions each output sees.
TINY = GPTConfig(vocab_size=64, d_model=32, num_heads=4, head_dim=8, d_ff=64, num_layers=2,
                 max_length=16, dropout_rate=0.0, attention_dropout_rate=0.0,
                 tie_embeddings=False)
VARIANTS = {
    'gpt2': {},
    'rope': dict(position_embedding='rope'),
    'sinusoidal': dict(position_embedding='sinusoidal'),
    'post_ln': dict(norm_position='post'),
    'post_ln_relu_no_bias': dict(norm_position='post', activation='relu', use_bias=False),
    'fused': dict(attention_impl='fused'),
}
# Distinct ids, so that each embedding row belongs to exactly one position.
TOKENS = jnp.array([[0, 11, 12, 13, 14, 15, 16, 17]])


def _model(**overrides):
  return GPT(dataclasses.replace(TINY, **overrides))


@pytest.fixture(scope='module')
def params():
  """One parameter set for every variant (initialising each would dominate the test time): flax
  ignores what a variant does not use (the position table under rope, biases, the lm_head)."""
  return _model().init(jax.random.key(0), TOKENS)['params']


def _influence(model, params, tokens, **kwargs):
  """(T, vocab): summed |d logits[t] / d embedding[v]|, logits summed over the vocabulary."""

  def logits_per_position(embedding):
    variables = {'params': {**params, 'token_embedder': {'embedding': embedding}}}
    return model.apply(variables, tokens, **kwargs)[0].sum(-1)  # (T,)

  embedding = params['token_embedder']['embedding']
  jac = jax.jit(jax.jacrev(logits_per_position))(embedding)  # (T, vocab, d_model)
  return np.abs(np.asarray(jac)).sum(axis=-1)


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_logits_do_not_depend_on_future_tokens(variant, params):
  influence = _influence(_model(**VARIANTS[variant]), params, TOKENS)
  tokens = np.asarray(TOKENS[0])
  for t in range(len(tokens)):
    assert np.all(influence[t, tokens[t + 1:]] == 0.0), f'position {t} sees the future'
    assert np.all(influence[t, tokens[:t + 1]] > 0.0), f'position {t} misses its past'


def test_packed_segments_are_independent(params):
  model, variables = _model(), {'params': params}
  first, second = [21, 22, 23, 24], [31, 32, 33]
  packed = jnp.array([first + second + [0]])
  segment_ids = jnp.array([[1, 1, 1, 1, 2, 2, 2, 0]])
  positions = jnp.array([[0, 1, 2, 3, 0, 1, 2, 0]])
  kwargs = dict(decoder_segment_ids=segment_ids, decoder_positions=positions)
  logits = model.apply(variables, packed, **kwargs)
  alone = model.apply(variables, jnp.array([second]))[0]
  np.testing.assert_allclose(logits[0, :4], model.apply(variables, jnp.array([first]))[0],
                             atol=1e-5)
  np.testing.assert_allclose(logits[0, 4:7], alone, atol=1e-5)
  # Control: without segment ids and positions the second document reads the first.
  assert not np.allclose(model.apply(variables, packed)[0, 4:7], alone, atol=1e-3)

  influence = _influence(model, params, packed, **kwargs)
  assert np.all(influence[:4][:, second] == 0.0) and np.all(influence[4:7][:, first] == 0.0)
  assert np.all(influence[4:7][:, second[0]] > 0.0) and np.all(influence[:4][:, first[0]] > 0.0)


def test_prefix_lm_reads_its_prefix_bidirectionally(params):
  causal_attention = jnp.array([[1, 1, 1, 0, 0, 0, 0, 0]])
  influence = _influence(_model(), params, TOKENS, decoder_causal_attention=causal_attention)
  tokens = np.asarray(TOKENS[0])
  prefix, targets = tokens[:3], tokens[3:]
  assert np.all(influence[:3][:, prefix] > 0.0)  # the prefix sees all of itself,
  assert np.all(influence[:3][:, targets] == 0.0)  # but no target;
  for t in range(3, len(tokens)):  # targets stay causal.
    assert np.all(influence[t, tokens[:t + 1]] > 0.0)
    assert np.all(influence[t, tokens[t + 1:]] == 0.0)


def _decode_in_chunks(model, params, tokens, chunks, prefix=None):
  """Logits of `tokens` fed through the cache in chunks of the given lengths; `prefix` (B, T):
  a prefix LM's prompt tokens."""
  batch, length = tokens.shape
  positions = jnp.broadcast_to(jnp.arange(length), (batch, length))
  # One compile per chunk length: half the time of running op by op.
  apply = jax.jit(functools.partial(model.apply, decode=True, mutable=['cache']))
  # The first call only sizes the cache (to the longest sequence it will hold).
  _, state = apply({'params': params}, jnp.zeros_like(tokens), decoder_positions=positions,
                   decoder_causal_attention=prefix)
  cache, outputs, start = state['cache'], [], 0
  for size in chunks:
    logits, state = apply({'params': params, 'cache': cache}, tokens[:, start:start + size],
                          decoder_positions=positions[:, start:start + size],
                          decoder_causal_attention=None if prefix is None else
                          prefix[:, start:start + size])
    cache, start = state['cache'], start + size
    outputs.append(logits)
  return jnp.concatenate(outputs, axis=1)


@pytest.mark.parametrize('variant', ['gpt2', 'rope', 'post_ln', 'fused'])
def test_cached_decoding_equals_full_forward(variant, params):
  model = _model(**VARIANTS[variant], tie_embeddings=True)
  tokens = jax.random.randint(jax.random.key(1), (2, 8), 0, TINY.vocab_size)
  full = model.apply({'params': params}, tokens)
  np.testing.assert_allclose(_decode_in_chunks(model, params, tokens, [1] * 8), full, atol=1e-5)
  np.testing.assert_allclose(_decode_in_chunks(model, params, tokens, [3, 1, 1, 2, 1]), full,
                             atol=1e-5)


def test_fused_attention_equals_exact(params):
  tokens = jax.random.randint(jax.random.key(1), (2, 8), 0, TINY.vocab_size)
  segment_ids = jnp.array([[1, 1, 1, 2, 2, 2, 2, 0], [1] * 8])
  exact, variables = _model(), {'params': params}
  for kwargs in ({}, dict(decoder_segment_ids=segment_ids),
                 dict(decoder_causal_attention=jnp.array([[1, 1, 0, 0, 0, 0, 0, 0]] * 2))):
    np.testing.assert_allclose(_model(attention_impl='fused').apply(variables, tokens, **kwargs),
                               exact.apply(variables, tokens, **kwargs), atol=1e-5)


def test_parameters_and_gpt2_initialisation():
  cfg = dataclasses.replace(TINY, d_model=128, num_heads=2, head_dim=64, d_ff=256, num_layers=4,
                            tie_embeddings=True)
  params = jax.jit(GPT(cfg).init)(jax.random.key(0), TOKENS)['params']
  assert 'lm_head' not in params and 'final_norm' in params
  assert params['position_embedder']['embedding'].shape == (16, 128)
  std = lambda x: float(np.std(np.asarray(x)))
  # GPT-2 §2.3: residual outputs at init_std / sqrt(2 * num_layers), everything else init_std.
  for layer in ('layers_0', 'layers_3'):
    assert std(params[layer]['self_attention']['out']['kernel']) == pytest.approx(0.02 / 8**0.5,
                                                                                   0.1)
    assert std(params[layer]['mlp']['wo']['kernel']) == pytest.approx(0.02 / 8**0.5, 0.1)
    assert std(params[layer]['self_attention']['query']['kernel']) == pytest.approx(0.02, 0.1)
    assert std(params[layer]['mlp']['wi']['kernel']) == pytest.approx(0.02, 0.1)
  assert std(params['token_embedder']['embedding']) == pytest.approx(0.02, 0.1)

  shapes = lambda model: jax.eval_shape(model.init, jax.random.key(0), TOKENS)['params']
  assert set(shapes(_model())['lm_head']) == {'kernel'}  # untied head, no bias
  assert 'final_norm' not in shapes(_model(norm_position='post'))
  assert 'position_embedder' not in shapes(_model(position_embedding='rope'))


def test_dropout_only_with_rng_and_bfloat16_logits_are_float32(params):
  model, variables = _model(dropout_rate=0.1, attention_dropout_rate=0.1), {'params': params}
  apply = lambda **kw: np.asarray(model.apply(variables, TOKENS, **kw))
  np.testing.assert_array_equal(apply(), apply())
  assert not np.allclose(apply(rngs={'dropout': jax.random.key(1)}),
                         apply(rngs={'dropout': jax.random.key(2)}))
  logits = _model(dtype='bfloat16').apply(variables, TOKENS)
  assert logits.dtype == jnp.float32
  np.testing.assert_allclose(logits, apply(), atol=0.05)


def test_registry_builds_gpt():
  model = build_model(ml_collections.ConfigDict({'name': 'gpt', 'num_layers': 2}))
  assert isinstance(model, GPT) and model.family == 'decoder_only'
  assert model.config == GPTConfig(num_layers=2)
  assert GPTConfig().d_model == 768 and GPTConfig().vocab_size == 50257


@pytest.mark.parametrize('key,value', [('num_layers', 0), ('activation', 'swish'),
                                       ('tie_embeddings', 'yes'), ('norm_position', 'middle'),
                                       ('position_embedding', 'alibi'), ('dropout_rate', 1.0),
                                       ('attention_impl', 'flash'), ('d_model', 33.0)])
def test_bad_config_values_name_their_key(key, value):
  with pytest.raises(ValueError, match=f'config.model.{key}'):
    GPTConfig.from_model_config({'name': 'gpt', key: value})


def test_unknown_config_key_is_named():
  with pytest.raises(ValueError, match='config.model.num_decoder_layers'):
    build_model(ml_collections.ConfigDict({'name': 'gpt', 'num_decoder_layers': 2}))


def test_cached_prefix_lm_reads_its_prompt_bidirectionally(params):
  # Row 0's prompt is 3 tokens, row 1's 5; the cache takes the 5 prompt columns in one call.
  model = _model(**VARIANTS['rope'])
  tokens = jax.random.randint(jax.random.key(1), (2, 8), 0, TINY.vocab_size)
  prefix = (jnp.arange(8) < jnp.array([[3], [5]])).astype(jnp.int32)
  full = model.apply({'params': params}, tokens, decoder_causal_attention=prefix)
  cached = _decode_in_chunks(model, params, tokens, [5, 1, 1, 1], prefix)
  # Row 0's columns 3 and 4 come in the first call too, and are read causally, as in `full`.
  np.testing.assert_allclose(cached, full, atol=1e-5)
  causal = model.apply({'params': params}, tokens)
  assert not np.allclose(cached[1, :5], causal[1, :5], atol=1e-3)


def test_bad_calls_raise(params):
  model, variables = _model(), {'params': params}
  with pytest.raises(ValueError, match='max_length=16'):
    model.apply(variables, jnp.zeros((1, 17), jnp.int32))
  with pytest.raises(ValueError, match='decoder_positions'):
    model.apply(variables, TOKENS, decode=True, mutable=['cache'])
  with pytest.raises(ValueError, match='decoder_segment_ids'):
    model.apply(variables, TOKENS, decoder_segment_ids=jnp.ones_like(TOKENS),
                decoder_positions=jnp.zeros_like(TOKENS), decode=True, mutable=['cache'])


def test_packed_prefix_lm_rows_score_as_alone(params):
  # Two prefix-LM task rows (BOS + prompt bidirectional, then the answer), packed into one row.
  from lm_jax.data import packing
  from lm_jax.data.tasks.task_iterator import decoder_only_row
  model, variables = _model(), {'params': params}
  rows = [decoder_only_row([21, 22, 23], [24, 25], 8, 8, eos_id=1),
          decoder_only_row([31, 32], [33, 34, 35], 8, 8, eos_id=1)]
  packed = packing.packed_prefix_lm_row(rows)
  assert packed['decoder_causal_attention'].tolist() == [1] * 5 + [0] * 2 + [1] * 4 + [0] * 3

  def logits(row):
    return model.apply(variables, jnp.asarray(row['decoder_input_tokens'])[None],
                       decoder_segment_ids=jnp.asarray(row['decoder_segment_ids'])[None],
                       decoder_positions=jnp.asarray(row['decoder_positions'])[None],
                       decoder_causal_attention=jnp.asarray(row['decoder_causal_attention'])[None])[0]

  together = logits(packed)
  np.testing.assert_allclose(together[:7], logits(rows[0]), atol=1e-5)
  np.testing.assert_allclose(together[7:], logits(rows[1]), atol=1e-5)
