"""T5Config validation, registry dispatch, bf16 compute, parameter counts, cached decoding,
packing, and the position-embedding and norm-position ablations."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import traverse_util

from lm_jax.convert import t5 as convert_t5
from lm_jax.models import build_model
from lm_jax.models.relative_position import RelativePositionBias
from lm_jax.models.t5 import T5, T5_POSITION_EMBEDDINGS, T5Config
from tests.models.packed_rows import pack_both_orders, padded

TINY = dict(vocab_size=64, d_model=32, num_heads=4, head_dim=8, d_ff=64,
            num_encoder_layers=2, num_decoder_layers=3)


def _param_count(cfg: T5Config) -> int:
  tokens = jax.ShapeDtypeStruct((1, 4), jnp.int32)
  shapes = jax.eval_shape(T5(cfg).init, jax.random.key(0), tokens, tokens)
  return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(shapes))


def test_build_model_from_config_dict():
  model = build_model(ml_collections.ConfigDict({'name': 't5', **TINY}))
  assert isinstance(model, T5) and model.config == T5Config(**TINY)
  with pytest.raises(ValueError, match=r"'gpt9'.*registered models: \[.*'t5'"):
    build_model(ml_collections.ConfigDict({'name': 'gpt9'}))


def test_from_model_config_rejects_unknown_key_by_name():
  with pytest.raises(ValueError, match=r'config\.model\.d_mdoel.*valid keys:.*d_model'):
    T5Config.from_model_config(ml_collections.ConfigDict({'name': 't5', 'd_mdoel': 512}))


@pytest.mark.parametrize('key,value', [('feed_forward', 'swiglu'), ('dtype', 'float16'),
                                       ('dropout_rate', 1.0), ('d_model', 0),
                                       ('num_heads', 2.5), ('relative_attention_max_distance', 8),
                                       ('position_embedding', 'alibi'),
                                       ('norm_position', 'sandwich'), ('max_length', 0),
                                       ('rope_base', 0.0)])
def test_from_model_config_rejects_bad_values(key, value):
  with pytest.raises(ValueError, match=f'config.model.{key}'):
    T5Config.from_model_config({'name': 't5', key: value})


@pytest.mark.parametrize('position_embedding,key,value', [('rope', 'head_dim', 7),
                                                          ('sinusoidal', 'd_model', 33)])
def test_position_embeddings_reject_odd_widths_naming_the_key(position_embedding, key, value):
  with pytest.raises(ValueError, match=f'config.model.{key} must be even'):
    T5Config.from_model_config({'name': 't5', 'position_embedding': position_embedding,
                                key: value})
  T5Config(**{key: value})  # T5's relative bias takes any width


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


def _decoder_setup(seed=0, batch=2, enc_length=5, dec_length=7, cfg=None):
  cfg = cfg or T5Config(**TINY, dropout_rate=0.0)
  model = T5(cfg)
  rng = np.random.default_rng(seed)
  encoder_tokens = jnp.asarray(rng.integers(1, cfg.vocab_size, (batch, enc_length)), jnp.int32)
  encoder_tokens = encoder_tokens.at[1, -2:].set(0)  # padding in the encoder input
  decoder_tokens = jnp.asarray(rng.integers(0, cfg.vocab_size, (batch, dec_length)), jnp.int32)
  decoder_tokens = decoder_tokens.at[:, 0].set(0)  # BOS
  variables = model.init(jax.random.key(seed), encoder_tokens, decoder_tokens)
  encoded = model.apply(variables, encoder_tokens, method=model.encode)
  full = model.apply(variables, encoded, encoder_tokens, decoder_tokens, method=model.decode)
  return model, variables, encoded, encoder_tokens, decoder_tokens, full


def _empty_cache(model, variables, encoded, encoder_tokens, decoder_tokens):
  """The cache sized by one decode=True call on max-length inputs (that call's output unused)."""
  _, state = model.apply(variables, encoded, encoder_tokens, jnp.zeros_like(decoder_tokens),
                         decode=True, mutable=['cache'], method=model.decode)
  return state['cache']


def _cached_logits(model, variables, encoded, encoder_tokens, decoder_tokens, chunks):
  """Feeds decoder_tokens through the cache in chunks of the given lengths; (B, T, V) logits.
  The chunks after the first pass no encoder output: cross-attention reads its cached keys and
  values."""
  cache = _empty_cache(model, variables, encoded, encoder_tokens, decoder_tokens)
  outputs, start = [], 0
  batch = decoder_tokens.shape[0]
  for length in chunks:
    positions = jnp.broadcast_to(jnp.arange(start, start + length), (batch, length))
    logits, state = model.apply(
        {**variables, 'cache': cache}, encoded if start == 0 else None, encoder_tokens,
        decoder_tokens[:, start:start + length], decoder_positions=positions, decode=True,
        mutable=['cache'], method=model.decode)
    cache = state['cache']
    outputs.append(logits)
    start += length
  return jnp.concatenate(outputs, axis=1)


@pytest.mark.parametrize('chunks', [(1,) * 7, (4, 1, 1, 1), (3, 2, 2)])
def test_decode_with_cache_matches_full_decoder(chunks):
  model, variables, encoded, encoder_tokens, decoder_tokens, full = _decoder_setup()
  cached = _cached_logits(model, variables, encoded, encoder_tokens, decoder_tokens, chunks)
  np.testing.assert_allclose(cached, full, atol=1e-5, rtol=1e-5)


def test_decode_cache_longer_than_the_decoded_prefix():
  # A cache of 7 slots fed 3 tokens: the unwritten slots must not be attended to.
  model, variables, encoded, encoder_tokens, decoder_tokens, full = _decoder_setup()
  cache = _empty_cache(model, variables, encoded, encoder_tokens, decoder_tokens)
  positions = jnp.broadcast_to(jnp.arange(3), (2, 3))
  logits, _ = model.apply({**variables, 'cache': cache}, encoded, encoder_tokens,
                          decoder_tokens[:, :3], decoder_positions=positions, decode=True,
                          mutable=['cache'], method=model.decode)
  np.testing.assert_allclose(logits, full[:, :3], atol=1e-5, rtol=1e-5)


def test_cache_sizing_call_is_a_plain_causal_pass():
  model, variables, encoded, encoder_tokens, decoder_tokens, full = _decoder_setup()
  logits, _ = model.apply(variables, encoded, encoder_tokens, decoder_tokens, decode=True,
                          mutable=['cache'], method=model.decode)
  np.testing.assert_allclose(logits, full, atol=1e-5, rtol=1e-5)


def test_cross_attention_keys_and_values_are_cached_once():
  model, variables, encoded, encoder_tokens, decoder_tokens, _ = _decoder_setup()
  cache = _empty_cache(model, variables, encoded, encoder_tokens, decoder_tokens)
  cross = cache['decoder']['layers_0']['cross_attention']
  kernel = variables['params']['decoder']['layers_0']['cross_attention']['key']['kernel']
  np.testing.assert_allclose(cross['static_key'],
                             (encoded @ kernel).reshape(cross['static_key'].shape), atol=1e-5)
  positions = jnp.zeros_like(decoder_tokens[:, :1])
  with pytest.raises(ValueError, match='call it with inputs_kv first'):
    model.apply(variables, None, encoder_tokens, decoder_tokens[:, :1],
                decoder_positions=positions, decode=True, mutable=['cache'], method=model.decode)


def test_decode_requires_positions():
  model, variables, encoded, encoder_tokens, decoder_tokens, _ = _decoder_setup()
  cache = _empty_cache(model, variables, encoded, encoder_tokens, decoder_tokens)
  with pytest.raises(ValueError, match='decoder_positions'):
    model.apply({**variables, 'cache': cache}, encoded, encoder_tokens, decoder_tokens[:, :1],
                decode=True, mutable=['cache'], method=model.decode)


def test_relative_bias_at_positions_matches_the_full_bias():
  _, variables, *_ = _decoder_setup()
  params = variables['params']['decoder']['relative_position_bias']
  bias = RelativePositionBias(32, 128, TINY['num_heads'], bidirectional=False)
  full = bias.apply({'params': params}, 6, 9)  # (1, H, 6, 9)
  queries = jnp.array([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]])
  at = bias.apply({'params': params}, queries, jnp.arange(9), method=bias.at_positions)
  assert at.shape == (2, TINY['num_heads'], 6, 9)
  np.testing.assert_array_equal(at[0], full[0])
  np.testing.assert_array_equal(at[1], full[0][:, ::-1])


def test_packed_segments_match_separate_sequences():
  # Two examples packed in one row give the logits each gets alone (segment masks in all three
  # attentions; relative offsets within a segment are unchanged by packing).
  cfg = T5Config(**TINY, dropout_rate=0.0)
  model = T5(cfg)
  rng = np.random.default_rng(1)
  enc = [rng.integers(1, 64, n).astype(np.int32) for n in (4, 3)]
  dec = [np.concatenate([[0], rng.integers(1, 64, n - 1)]).astype(np.int32) for n in (3, 4)]
  packed_enc = jnp.asarray(np.concatenate(enc + [np.zeros(1, np.int32)]))[None]
  packed_dec = jnp.asarray(np.concatenate(dec + [np.zeros(1, np.int32)]))[None]
  enc_segments = jnp.asarray([[1] * 4 + [2] * 3 + [0]])
  dec_segments = jnp.asarray([[1] * 3 + [2] * 4 + [0]])
  enc_positions = jnp.asarray([[0, 1, 2, 3, 0, 1, 2, 0]])
  dec_positions = jnp.asarray([[0, 1, 2, 0, 1, 2, 3, 0]])
  variables = model.init(jax.random.key(0), packed_enc, packed_dec)
  packed = model.apply(variables, packed_enc, packed_dec, enc_segments, dec_segments,
                       enc_positions, dec_positions)
  first = model.apply(variables, jnp.asarray(enc[0])[None], jnp.asarray(dec[0])[None])
  second = model.apply(variables, jnp.asarray(enc[1])[None], jnp.asarray(dec[1])[None])
  np.testing.assert_allclose(packed[:, :3], first, atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(packed[:, 3:7], second, atol=1e-5, rtol=1e-5)


def test_packed_batches_need_both_segment_ids():
  model = T5(T5Config(**TINY))
  tokens = jnp.array([[3, 4, 5, 0]])
  variables = jax.eval_shape(model.init, jax.random.key(0), tokens, tokens)
  with pytest.raises(ValueError, match='both encoder_segment_ids and decoder_segment_ids'):
    jax.eval_shape(model.apply, variables, tokens, tokens, jnp.array([[1, 1, 1, 0]]))


# The ablations: TINY's widths with one layer per stack, and the (2, 5) encoder and (2, 7) decoder
# inputs of _decoder_setup everywhere, so that the eagerly run operations compile once (and
# mostly reuse what the tests above compiled).
SMALL = {**TINY, 'num_encoder_layers': 1, 'num_decoder_layers': 1, 'dropout_rate': 0.0}


@functools.lru_cache(maxsize=None)
def _small(position_embedding: str, norm_position: str = 'pre'):
  """_decoder_setup's (model, variables, encoded, encoder_tokens, decoder_tokens, logits)."""
  cfg = T5Config(**SMALL, position_embedding=position_embedding, norm_position=norm_position,
                 max_length=12)
  return _decoder_setup(cfg=cfg)


def _expected_params(position_embedding: str, norm_position: str) -> set[str]:
  """Parameter paths of a SMALL T5."""
  paths = {'token_embedder/embedding'}
  for stack, attentions in (('encoder', ['self_attention']),
                            ('decoder', ['self_attention', 'cross_attention'])):
    layer = f'{stack}/layers_0'
    paths |= {f'{layer}/{a}/{p}/kernel'
              for a in attentions for p in ('query', 'key', 'value', 'out')}
    paths |= {f'{layer}/mlp/wi/kernel', f'{layer}/mlp/wo/kernel'}
    paths |= {f'{layer}/{norm_position}_{s}_norm/scale' for s in [*attentions, 'mlp']}
    if norm_position == 'pre':
      paths.add(f'{stack}/final_norm/scale')
    if position_embedding == 'relative':
      paths.add(f'{stack}/relative_position_bias/embedding')
    if position_embedding == 'learned':
      paths.add(f'{stack}/position_embedder/embedding')
  return paths


@pytest.mark.parametrize('norm_position', ['pre', 'post'])
@pytest.mark.parametrize('position_embedding', T5_POSITION_EMBEDDINGS)
def test_variants_build_run_and_have_exactly_their_parameters(position_embedding, norm_position):
  model, variables, *_, logits = _small(position_embedding, norm_position)
  assert logits.shape == (2, 7, 64) and np.all(np.isfinite(logits))
  params = traverse_util.flatten_dict(variables['params'], sep='/')
  assert set(params) == _expected_params(position_embedding, norm_position)
  if position_embedding == 'learned':
    table = params['decoder/position_embedder/embedding']
    assert table.shape == (12, 32) and 0.7 < np.std(table) < 1.3  # T5's token embedding scale
  if (position_embedding, norm_position) == ('relative', 'pre'):  # T5 itself: HF's names
    hf_names = {'/'.join(path) for path, _ in convert_t5.param_map(model.config).values()}
    assert set(params) == hf_names


@pytest.mark.parametrize('position_embedding', T5_POSITION_EMBEDDINGS)
def test_the_encoder_sees_token_order(position_embedding):
  # Without position information a bidirectional encoder is permutation-equivariant; every
  # variant (relative bias, added vectors, rotated queries and keys) must break that.
  model, variables, encoded, encoder_tokens, *_ = _small(position_embedding)
  tokens = encoder_tokens.at[1].set(encoder_tokens[0])  # no padding: a plain permutation
  encoded = model.apply(variables, tokens, method=model.encode)
  reversed_ = model.apply(variables, tokens[:, ::-1], method=model.encode)
  assert not np.allclose(reversed_[:, ::-1], encoded, atol=1e-3)


@pytest.mark.parametrize('position_embedding,norm_position', [
    ('relative', 'post'), ('learned', 'pre'), ('sinusoidal', 'post'), ('rope', 'pre')])
def test_variants_decode_with_cache_as_the_full_decoder(position_embedding, norm_position):
  # A 4-token prompt, then single steps at their decoder_positions: a step that ignored them
  # would add (or rotate by) position 0 and miss the full pass.
  model, variables, encoded, encoder_tokens, decoder_tokens, full = _small(position_embedding,
                                                                           norm_position)
  cached = _cached_logits(model, variables, encoded, encoder_tokens, decoder_tokens,
                          (4, 1, 1, 1))
  np.testing.assert_allclose(cached, full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('position_embedding', T5_POSITION_EMBEDDINGS)
def test_variants_pack_segments_as_separate_sequences(position_embedding):
  # Row n alone, then both rows packed into each row in either order, at the same shapes. The
  # second segment of a packed row matches only if its *_positions (restarting at 0) are read.
  model, variables, *_ = _small(position_embedding)
  encoders, decoders = [[21, 22], [23, 24, 25]], [[0, 31, 32], [0, 33, 34, 35]]

  separate = model.apply(variables, jnp.array([padded(e, 5) for e in encoders]),
                         jnp.array([padded(d, 7) for d in decoders]))
  (encoder, encoder_segments, encoder_positions), (decoder, decoder_segments, decoder_positions) = (
      pack_both_orders(encoders, 5), pack_both_orders(decoders, 7))
  packed = model.apply(variables, encoder, decoder, encoder_segments, decoder_segments,
                       encoder_positions, decoder_positions)
  for packed_row, order in ((0, (0, 1)), (1, (1, 0))):
    start = 0
    for example in order:
      length = len(decoders[example])
      np.testing.assert_allclose(packed[packed_row, start:start + length],
                                 separate[example, :length], atol=1e-5, rtol=1e-5)
      start += length


def test_learned_positions_refuse_inputs_longer_than_the_table():
  model = T5(T5Config(**SMALL, position_embedding='learned', max_length=4))
  short, long = jnp.ones((1, 4), jnp.int32), jnp.ones((1, 5), jnp.int32)
  jax.eval_shape(model.init, jax.random.key(0), short, short)
  for what, inputs in (('encoder_input_tokens', (long, short)),
                       ('decoder_input_tokens', (short, long))):
    with pytest.raises(ValueError, match=f'{what} has length 5.*max_length=4'):
      jax.eval_shape(model.init, jax.random.key(0), *inputs)


@pytest.mark.parametrize('key,value', [('position_embedding', 'rope'), ('norm_position', 'post')])
def test_hf_export_refuses_what_hf_t5_cannot_express(key, value, tmp_path):
  cfg = T5Config(**SMALL, **{key: value})
  tokens = jnp.ones((1, 3), jnp.int32)
  variables = jax.eval_shape(T5(cfg).init, jax.random.key(0), tokens, tokens)
  with pytest.raises(ValueError, match=f'config.model.{key}'):
    convert_t5.to_hf(cfg, variables, str(tmp_path))
  assert not list(tmp_path.iterdir())
