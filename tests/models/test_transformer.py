"""The Vaswani et al. Transformer: paper-derived size, masks that leak nothing, §3.4 embedding
scale, post-LN outputs, cached decoding, packing, and every BlockConfig option."""
import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from lm_jax.config import schema
from lm_jax.models import build_model
from lm_jax.models.position_encoding import sinusoidal_position_encoding
from lm_jax.models.transformer import Transformer, TransformerConfig
from lm_jax.train.optimizers import make_schedule
from tests.models.packed_rows import pack_both_orders, padded

CONFIG = os.path.join(os.path.dirname(__file__), '..', '..', 'configs', 'transformer_base.py')

TINY = TransformerConfig(vocab_size=64, d_model=32, num_heads=4, head_dim=8, d_ff=64,
                         num_encoder_layers=2, num_decoder_layers=2, dropout_rate=0.0,
                         init_std=32**-0.5, max_length=16)
ENCODER_TOKENS = jnp.array([[5, 6, 7, 8, 0], [9, 10, 11, 0, 0]])
DECODER_TOKENS = jnp.array([[0, 12, 13, 14, 15, 16], [0, 17, 18, 19, 0, 0]])

# Tests run eagerly and share input shapes: JAX caches each compiled operation by shape, so after
# the first test a model call costs milliseconds, where jit would compile every config anew.


def _init(config, encoder_tokens=ENCODER_TOKENS, decoder_tokens=DECODER_TOKENS):
  """(model, variables, logits for these inputs)."""
  model = Transformer(config)
  logits, variables = model.init_with_output(jax.random.key(0), encoder_tokens, decoder_tokens)
  return model, variables, logits


@functools.lru_cache(maxsize=None)
def _cached_init(config):
  return _init(config)


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('norm_position', ['post', 'pre'])
def test_base_parameter_count_matches_the_paper_architecture(norm_position):
  config = TransformerConfig(norm_position=norm_position)
  assert (config.d_model, config.num_heads * config.head_dim, config.d_ff) == (512, 512, 2048)
  model = Transformer(config)
  tokens = jnp.zeros((1, 8), jnp.int32)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), tokens, tokens))['params']
  d, d_ff, n = config.d_model, config.d_ff, config.num_encoder_layers
  attention = 4 * (d * d + d)  # W^Q, W^K, W^V, W^O with biases (§3.2.2, h * d_k = d_model)
  ffn = (d * d_ff + d_ff) + (d_ff * d + d)  # §3.3
  norm = 2 * d  # LayerNorm scale and bias
  encoder_layer = attention + ffn + 2 * norm
  decoder_layer = 2 * attention + ffn + 3 * norm
  final_norms = 2 * norm if norm_position == 'pre' else 0
  stacks = n * encoder_layer + n * decoder_layer + final_norms
  # One embedding for source, target and the pre-softmax projection (§3.4); sinusoids are free.
  assert _count(shapes) == stacks + config.vocab_size * d
  assert 44.1e6 < stacks < 44.2e6
  assert set(shapes) == {'token_embedder', 'encoder', 'decoder'}


def test_registered_builder_rejects_bad_values_naming_the_key():
  model = build_model(ml_collections.ConfigDict({'name': 'transformer', 'd_model': 64}))
  assert isinstance(model, Transformer) and Transformer.family == 'encoder_decoder'
  assert model.config.activation == 'relu' and model.config.norm_position == 'post'
  bad = [({'num_encoder_layers': 0}, 'num_encoder_layers'),
         ({'num_decoder_layers': 1.5}, 'num_decoder_layers'),
         ({'activation': 'swish'}, 'activation'),
         ({'norm_position': 'middle'}, 'norm_position'),
         ({'position_embedding': 'relative'}, 'position_embedding'),
         ({'dropout_rate': 1.0}, 'dropout_rate'),
         ({'num_layers': 6}, 'num_layers'),
         ({'d_model': 33}, 'd_model')]  # sinusoids pair up features
  for values, key in bad:
    with pytest.raises(ValueError, match=f'config.model.{key}'):
      build_model(ml_collections.ConfigDict({'name': 'transformer', **values}))


def test_decoder_logits_do_not_depend_on_future_inputs():
  # The embedding is tied, so it also enters through the output projection; reading out only
  # logits of ids that no input uses keeps the input rows' gradients to the input lookups.
  encoder_tokens = jnp.array([[40, 41, 42, 43]])
  decoder_tokens = jnp.array([[0, 11, 12, 13, 14, 15]])
  readout_ids = jnp.array([60, 61, 62])
  model, variables, _ = _cached_init(TINY)  # parameters do not depend on the init shapes

  def readout(embedding, t):
    params = {**variables['params'], 'token_embedder': {'embedding': embedding}}
    logits = model.apply({'params': params}, encoder_tokens, decoder_tokens)[0]  # (T_dec, V)
    return logits[t, readout_ids].sum()

  # One compiled gradient, run per position: cheaper to compile than the vmapped jacrev.
  gradient = jax.jit(jax.grad(readout))
  embedding = variables['params']['token_embedder']['embedding']
  for t in range(decoder_tokens.shape[1]):
    influence = np.abs(np.asarray(gradient(embedding, t))).sum(axis=-1)  # (vocab,)
    assert np.all(influence[decoder_tokens[0, t + 1:]] == 0.0), f'position {t} sees the future'
    assert np.all(influence[decoder_tokens[0, :t + 1]] > 0.0)
    assert np.all(influence[encoder_tokens[0]] > 0.0)


def test_encoder_padding_changes_nothing():
  model, variables, logits = _cached_init(TINY)
  encode = functools.partial(model.apply, method=Transformer.encode)
  decode = functools.partial(model.apply, method=Transformer.decode)
  longer = jnp.pad(ENCODER_TOKENS, ((0, 0), (0, 4)))
  encoded, encoded_longer = encode(variables, ENCODER_TOKENS), encode(variables, longer)
  real = ENCODER_TOKENS != 0
  np.testing.assert_allclose(encoded_longer[:, :5][real], encoded[real], atol=1e-5)
  np.testing.assert_allclose(decode(variables, encoded_longer, longer, DECODER_TOKENS), logits,
                             atol=1e-5)
  # Cross-attention never reads padded encoder positions, whatever they hold.
  noise = 100.0 * jax.random.normal(jax.random.key(1), encoded.shape)
  perturbed = jnp.where(real[..., None], encoded, encoded + noise)
  np.testing.assert_allclose(decode(variables, perturbed, ENCODER_TOKENS, DECODER_TOKENS), logits,
                             atol=1e-5)
  changed = decode(variables, encoded + noise, ENCODER_TOKENS, DECODER_TOKENS)
  assert not np.allclose(changed, logits, atol=1e-3)  # control: real positions do matter


@functools.lru_cache(maxsize=None)
def _intermediates(config):
  """Every submodule's output for the default inputs: {stack: {module: {'__call__': (out,)}}}."""
  model, variables, _ = _cached_init(config)
  _, state = model.apply(variables, ENCODER_TOKENS, DECODER_TOKENS, capture_intermediates=True,
                         mutable=['intermediates'])
  return state['intermediates']


def test_embeddings_are_scaled_by_sqrt_d_model_plus_sinusoids():
  _, variables, _ = _cached_init(TINY)
  stacks = _intermediates(TINY)
  table = np.asarray(variables['params']['token_embedder']['embedding'])
  for stack, tokens in (('encoder', ENCODER_TOKENS), ('decoder', DECODER_TOKENS)):
    # Dropout is the identity here, so its output is the embedding sum of §3.4-3.5.
    (inputs,) = stacks[stack]['embedding_dropout']['__call__']
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    expected = table[tokens] * np.sqrt(TINY.d_model) + sinusoidal_position_encoding(positions, 32)
    np.testing.assert_allclose(inputs, expected, rtol=1e-6, atol=1e-6)
  # The tied embedding's init, normal(d_model**-0.5), gives unit-variance scaled inputs.
  assert 0.8 < np.std(table) * np.sqrt(TINY.d_model) < 1.2


def test_post_ln_layers_end_in_layer_norm_and_pre_ln_stacks_in_a_final_norm():
  stacks = _intermediates(TINY)
  for stack in ('encoder', 'decoder'):
    for i in range(2):
      (out,) = stacks[stack][f'layers_{i}']['__call__']  # (B, T, d_model)
      np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-5)
      np.testing.assert_allclose(out.var(-1), 1.0, atol=1e-3)  # LayerNorm at init: scale 1
  assert 'final_norm' not in _cached_init(TINY)[1]['params']['encoder']

  pre = dataclasses.replace(TINY, norm_position='pre')
  stacks = _intermediates(pre)
  (residual,) = stacks['encoder']['layers_1']['__call__']
  assert np.abs(residual.var(-1) - 1.0).max() > 0.05  # the pre-LN residual stream is not normed
  (final,) = stacks['encoder']['final_norm']['__call__']
  np.testing.assert_allclose(final.var(-1), 1.0, atol=1e-3)
  assert 'final_norm' in _cached_init(pre)[1]['params']['decoder']


@pytest.mark.parametrize('options', [
    {},
    {'position_embedding': 'learned'},
    {'position_embedding': 'rope', 'norm_position': 'pre', 'attention_impl': 'fused'},
])
def test_cached_decoding_reproduces_the_full_decoder(options):
  model, variables, full = _cached_init(dataclasses.replace(TINY, **options))
  batch, length = DECODER_TOKENS.shape
  encoded = model.apply(variables, ENCODER_TOKENS, method=Transformer.encode)
  step = functools.partial(model.apply, method=Transformer.decode, decode=True, mutable=['cache'])
  positions = jnp.broadcast_to(jnp.arange(length), (batch, length))
  # The first call only sizes the cache: (B, max decode length) dummy inputs.
  _, state = step({'params': variables['params']}, encoded, ENCODER_TOKENS,
                  jnp.zeros_like(DECODER_TOKENS), decoder_positions=positions)
  # A two-token prompt in one call (causal inside the call), then one token per call, which
  # passes no encoder output: cross-attention reads the keys and values it cached.
  pieces = []
  for start, end in [(0, 2)] + [(t, t + 1) for t in range(2, length)]:
    logits, state = step({'params': variables['params'], **state},
                         encoded if start == 0 else None, ENCODER_TOKENS,
                         DECODER_TOKENS[:, start:end], decoder_positions=positions[:, start:end])
    pieces.append(logits)
  np.testing.assert_allclose(jnp.concatenate(pieces, axis=1), full, atol=1e-5, rtol=1e-5)
  with pytest.raises(ValueError, match='decoder_positions'):
    step({'params': variables['params'], **state}, encoded, ENCODER_TOKENS, DECODER_TOKENS[:, :1])


@pytest.mark.parametrize('position_embedding', ['sinusoidal', 'learned', 'rope'])
def test_packed_rows_equal_separate_runs(position_embedding):
  encoders, decoders = [[21, 22], [23, 24, 25]], [[0, 31, 32], [0, 33, 34]]
  # One example per row, then both packed into each row (in either order), at the same shapes.
  model, variables, separate = _init(
      dataclasses.replace(TINY, position_embedding=position_embedding),
      jnp.array([padded(e, 5) for e in encoders]), jnp.array([padded(d, 6) for d in decoders]))
  (encoder, encoder_segments, encoder_positions), (decoder, decoder_segments, decoder_positions) = (
      pack_both_orders(encoders, 5), pack_both_orders(decoders, 6))
  packed = model.apply(variables, encoder, decoder, encoder_segments, decoder_segments,
                       encoder_positions, decoder_positions)
  np.testing.assert_allclose(packed[0, :3], separate[0, :3], atol=1e-5)
  np.testing.assert_allclose(packed[0, 3:], separate[1, :3], atol=1e-5)
  np.testing.assert_allclose(packed[1, :3], separate[1, :3], atol=1e-5)
  np.testing.assert_allclose(packed[1, 3:], separate[0, :3], atol=1e-5)
  with pytest.raises(ValueError, match='both encoder_segment_ids and decoder_segment_ids'):
    model.apply(variables, encoder, decoder, encoder_segment_ids=encoder_segments)


@pytest.mark.parametrize('options', [
    {'norm_position': 'pre', 'position_embedding': 'rope'},
    {'position_embedding': 'learned', 'activation': 'gelu', 'use_bias': False},
    {'dtype': 'bfloat16'},
])
def test_variants_run(options):
  _, variables, logits = _cached_init(dataclasses.replace(TINY, **options))
  assert logits.shape == (2, 6, 64) and logits.dtype == jnp.float32
  assert np.all(np.isfinite(logits))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables))


def test_fused_attention_equals_exact():
  _, variables, logits = _cached_init(TINY)
  fused = Transformer(dataclasses.replace(TINY, attention_impl='fused'))
  np.testing.assert_allclose(fused.apply(variables, ENCODER_TOKENS, DECODER_TOKENS), logits,
                             atol=1e-5)


def test_dropout_only_with_a_dropout_rng_and_learned_positions_check_length():
  model, variables, plain = _init(dataclasses.replace(TINY, dropout_rate=0.1,
                                                     attention_dropout_rate=0.1))
  np.testing.assert_array_equal(model.apply(variables, ENCODER_TOKENS, DECODER_TOKENS), plain)
  dropped = model.apply(variables, ENCODER_TOKENS, DECODER_TOKENS,
                        rngs={'dropout': jax.random.key(1)})
  assert not np.allclose(dropped, plain, atol=1e-3)
  learned = Transformer(dataclasses.replace(TINY, position_embedding='learned', max_length=4))
  with pytest.raises(ValueError, match='max_length=4'):
    jax.eval_shape(learned.init, jax.random.key(0), ENCODER_TOKENS, DECODER_TOKENS)


def test_base_config_is_the_paper_recipe():
  config = schema.load_config(CONFIG)
  schema.validate_config(config)
  assert build_model(config.model).config == TransformerConfig()  # the defaults are the base model
  optimizer = config.optimizer
  assert (optimizer.name, optimizer.b1, optimizer.b2, optimizer.eps) == ('adamw', 0.9, 0.98, 1e-9)
  assert (config.loss.label_smoothing, optimizer.weight_decay) == (0.1, 0.0)
  schedule = make_schedule(config.optimizer, config.num_train_steps)
  for step in (1, 100, 3999, 4000, 4001, 20_000, 100_000):
    # §5.3, counting steps from 1; lm_jax's optimizer step s is the paper's step s + 1.
    paper = 512**-0.5 * min(step**-0.5, step * 4000**-1.5)
    np.testing.assert_allclose(schedule(step - 1), paper, rtol=2e-4)
  tiny = schema.load_config(CONFIG + ':tiny')
  schema.validate_config(tiny)
  assert build_model(tiny.model).config.d_model == 64
