"""T5 encoder-decoder (Raffel et al. 2020; v1.0 and v1.1), numerically matching HF's T5, with
the ablations of Narang et al. (2021): absolute or rotary positions and post-norm residuals."""
import dataclasses
from typing import ClassVar, Optional

import flax.linen as nn
import jax.numpy as jnp

from lm_jax.models.attention import (CACHED_KEY, MultiHeadAttention, combine_masks,
                                     make_attention_mask, make_causal_mask, make_segment_mask,
                                     prefix_length)
from lm_jax.models.layers import NORM_POSITIONS, Dropout, Embed, MlpBlock, RMSNorm, residual
from lm_jax.models.model_config import DTYPE_OPTIONS, ModelConfig
from lm_jax.models.position_encoding import (POSITION_EMBEDDINGS, PositionEmbedding,
                                             PositionOptions, check_length, default_positions)
from lm_jax.models.registry import register_model
from lm_jax.models import virtual_tokens
from lm_jax.models.remat import REMAT_POLICIES, rematerialized
from lm_jax.models.relative_position import RelativePositionBias

FEED_FORWARD_OPTIONS = ('relu', 'gated-gelu')  # T5 v1.0, T5 v1.1
T5_POSITION_EMBEDDINGS = ('relative', *POSITION_EMBEDDINGS)


@dataclasses.dataclass(frozen=True)
class T5Config(PositionOptions, ModelConfig):
  """The keys of `config.model` for `name='t5'` (defaults: T5-small v1.0).

  position_embedding: 'relative' is T5's learned bias over bucketed offsets, one table per stack
    (relative_attention_*). 'learned' (a table of max_length rows per stack) and 'sinusoidal'
    (Vaswani et al. §3.5) add absolute position vectors to each stack's token embeddings, which
    T5 does not scale by sqrt(d_model); 'rope' rotates the queries and keys of self-attention
    (cross-attention has no positions) with base rope_base. The last three read the batch's
    `*_positions` (positions restart in each packed segment).
  max_length: rows of the 'learned' table; longer inputs are refused. Unused otherwise.
  norm_position: 'pre' is T5's RMSNorm(x) -> sublayer -> + x with a final RMSNorm per stack;
    'post' is RMSNorm(x + sublayer(x)) (Vaswani et al. §5.4) and no final norm.
  Only 'relative' with 'pre' is T5 itself, what Hugging Face checkpoints import and export.
  """
  NAME = 't5'
  vocab_size: int = 32128
  d_model: int = 512
  num_heads: int = 8
  head_dim: int = 64
  d_ff: int = 2048
  num_encoder_layers: int = 6
  num_decoder_layers: int = 6
  feed_forward: str = 'relu'
  tie_embeddings: bool = True
  dropout_rate: float = 0.1
  relative_attention_num_buckets: int = 32
  relative_attention_max_distance: int = 128
  layer_norm_epsilon: float = 1e-6
  position_embedding: str = 'relative'
  max_length: int = 512
  rope_base: float = 10_000.0
  norm_position: str = 'pre'
  dtype: str = 'float32'  # compute dtype; parameters are always float32
  remat_policy: str = 'none'  # what each layer recomputes in the backward pass (remat.py)

  def __post_init__(self):
    self.require_positive_ints('vocab_size', 'd_model', 'num_heads', 'head_dim', 'd_ff',
                               'num_encoder_layers', 'num_decoder_layers',
                               'relative_attention_num_buckets',
                               'relative_attention_max_distance', 'max_length')
    self.require_choice('feed_forward', FEED_FORWARD_OPTIONS)
    self.require_choice('dtype', DTYPE_OPTIONS)
    self.require_choice('remat_policy', REMAT_POLICIES)
    self.require_bool('tie_embeddings')
    self.require(0.0 <= self.dropout_rate < 1.0, 'dropout_rate', 'must be in [0, 1)')
    self.require(self.layer_norm_epsilon > 0, 'layer_norm_epsilon', 'must be > 0')
    self.require(self.relative_attention_num_buckets >= 4, 'relative_attention_num_buckets',
                 'must be >= 4')
    # Decoder buckets keep num_buckets // 2 exact distances; the log-spaced rest needs
    # max_distance beyond them (log(max_distance / max_exact) > 0).
    self.require(
        self.relative_attention_max_distance > self.relative_attention_num_buckets // 2,
        'relative_attention_max_distance', 'must exceed relative_attention_num_buckets // 2')
    self.require_choice('position_embedding', T5_POSITION_EMBEDDINGS)
    self.require_choice('norm_position', NORM_POSITIONS)
    self.require_position_options()


def _dropout(cfg: T5Config) -> Dropout:
  return Dropout(cfg.dropout_rate)


def _norm(cfg: T5Config, name: str) -> RMSNorm:
  return RMSNorm(cfg.layer_norm_epsilon, cfg.compute_dtype, name=name)


def _attention(cfg: T5Config, name: str, rope: Optional[float] = None,
               static_kv: bool = False) -> MultiHeadAttention:
  return MultiHeadAttention(cfg.num_heads, cfg.head_dim, cfg.dropout_rate, scale_scores=False,
                            rope_base=rope, dtype=cfg.compute_dtype, static_kv=static_kv,
                            name=name)


def _mlp(cfg: T5Config) -> MlpBlock:
  return MlpBlock(cfg.d_ff, cfg.feed_forward, cfg.dropout_rate, cfg.compute_dtype, name='mlp')


def _relative_position_bias(cfg: T5Config, bidirectional: bool) -> RelativePositionBias:
  return RelativePositionBias(cfg.relative_attention_num_buckets,
                              cfg.relative_attention_max_distance, cfg.num_heads, bidirectional,
                              embedding_init=nn.initializers.normal(cfg.d_model**-0.5),
                              name='relative_position_bias')


def _residual(cfg: T5Config, name: str, sublayer, x, deterministic: bool):
  """The shared residual block with RMSNorm; 'pre' is HF's T5LayerFF/T5LayerSelfAttention. The
  norm is named by its place: pre_self_attention_norm, post_mlp_norm, ..."""
  norm = _norm(cfg, f'{cfg.norm_position}_{name}_norm')
  return residual(cfg.norm_position, norm, _dropout(cfg), sublayer, x, deterministic)


def _embed(cfg: T5Config, x, positions, deterministic: bool):
  """Token vectors x (B, T, d_model) -> Dropout(x [+ PE(positions)]), unscaled as T5's embeddings.

  Called in the encoder's and the decoder's compact methods, so each stack owns its learned
  position table ('position_embedder'), as the Transformer's stacks do.
  """
  # A learned table starts as normal(1.0), the init of T5's token embedder (layers.Embed's
  # default), so token and position vectors enter the sum at one scale (sinusoids lie in [-1, 1]).
  position_vectors = PositionEmbedding(cfg.position_embedding, cfg.max_length, cfg.d_model,
                                       init_std=1.0, dtype=cfg.compute_dtype,
                                       name='position_embedder')(positions)
  if position_vectors is not None:  # None for relative and rope, which act inside attention
    x = x + position_vectors
  return _dropout(cfg)(x, deterministic=deterministic)


def _final(cfg: T5Config, x, deterministic: bool):
  """The end of a stack: RMSNorm for pre-norm (post-norm layers end normalised, as the
  Transformer's post-LN stacks), then T5's dropout on the stack output either way."""
  if cfg.norm_position == 'pre':
    x = _norm(cfg, 'final_norm')(x)
  return _dropout(cfg)(x, deterministic=deterministic)


class EncoderLayer(nn.Module):
  """Self-attention, then the MLP, each a residual block."""
  config: T5Config

  @nn.compact
  def __call__(self, x, mask, position_bias, positions, deterministic: bool):
    cfg = self.config
    attention = _attention(cfg, 'self_attention', cfg.rope)
    x = _residual(cfg, 'self_attention',
                  lambda y: attention(y, y, mask, position_bias, deterministic,
                                      query_positions=positions, key_positions=positions),
                  x, deterministic)
    mlp = _mlp(cfg)
    return _residual(cfg, 'mlp', lambda y: mlp(y, deterministic), x, deterministic)


class DecoderLayer(nn.Module):
  """Causal self-attention, cross-attention over the encoder output, then the MLP."""
  config: T5Config

  @nn.compact
  def __call__(self, x, encoded, self_mask, cross_mask, position_bias, positions,
               deterministic: bool, decode: bool = False):
    cfg = self.config
    self_attention = _attention(cfg, 'self_attention', cfg.rope)
    x = _residual(cfg, 'self_attention',
                  lambda y: self_attention(y, y, self_mask, position_bias, deterministic,
                                           query_positions=positions, key_positions=positions,
                                           decode=decode), x, deterministic)
    # Cross-attention has no position information in T5 (no bias, no rotation). Decoding
    # caches its keys and values: `encoded` is None on the steps after the first.
    cross_attention = _attention(cfg, 'cross_attention', static_kv=True)
    x = _residual(cfg, 'cross_attention',
                  lambda y: cross_attention(y, encoded, cross_mask, None, deterministic,
                                            decode=decode), x, deterministic)
    mlp = _mlp(cfg)
    return _residual(cfg, 'mlp', lambda y: mlp(y, deterministic), x, deterministic)


def encoder_layer(cfg: T5Config, **kwargs) -> EncoderLayer:
  """An EncoderLayer, rematerialised as cfg.remat_policy says (deterministic is argument 5)."""
  return rematerialized(EncoderLayer, cfg.remat_policy, static_argnums=(5,))(cfg, **kwargs)


def decoder_layer(cfg: T5Config, **kwargs) -> DecoderLayer:
  """A DecoderLayer, rematerialised as cfg.remat_policy says (deterministic and decode are
  arguments 7 and 8)."""
  return rematerialized(DecoderLayer, cfg.remat_policy, static_argnums=(7, 8))(cfg, **kwargs)


class Encoder(nn.Module):
  config: T5Config
  token_embedder: Embed

  @nn.compact
  def __call__(self, encoder_input_tokens, encoder_segment_ids, encoder_positions,
               deterministic: bool):
    cfg = self.config
    embedded = self.token_embedder.with_prompt(encoder_input_tokens)  # (B, T_enc, d_model)
    # T_enc counts prompt tuning's virtual tokens, when there are any.
    tokens, segment_ids, positions, _ = virtual_tokens.prepend(
        self.token_embedder.prompt_length(), encoder_input_tokens, encoder_segment_ids,
        encoder_positions)
    length = tokens.shape[-1]
    prefix = prefix_length(self)
    check_length(cfg.position_embedding, cfg.max_length, prefix + length, 'encoder_input_tokens')
    positions = default_positions(tokens, positions, prefix)  # (B, T_enc)
    x = _embed(cfg, embedded, positions, deterministic)
    mask = make_attention_mask(tokens, tokens)  # (B, 1, T, T)
    if segment_ids is not None:
      mask = combine_masks(mask, make_segment_mask(segment_ids, segment_ids))
    position_bias = None
    if cfg.position_embedding == 'relative':
      bias = _relative_position_bias(cfg, bidirectional=True)
      position_bias = bias(length, prefix + length, query_offset=prefix)
    for i in range(cfg.num_encoder_layers):
      x = encoder_layer(cfg, name=f'layers_{i}')(x, mask, position_bias, positions, deterministic)
    return _final(cfg, x, deterministic)


class Decoder(nn.Module):
  """The decoder stack; with `decode=True` its self-attention reads and extends the KV cache."""
  config: T5Config
  token_embedder: Embed

  @nn.compact
  def __call__(self, encoded, encoder_input_tokens, decoder_input_tokens, deterministic: bool, *,
               encoder_segment_ids=None, decoder_segment_ids=None, decoder_positions=None,
               decode: bool = False):
    cfg = self.config
    length = decoder_input_tokens.shape[-1]
    prefix = prefix_length(self)
    check_length(cfg.position_embedding, cfg.max_length, prefix + length, 'decoder_input_tokens')
    cross_mask = make_attention_mask(decoder_input_tokens, encoder_input_tokens)
    if (encoder_segment_ids is None) != (decoder_segment_ids is None) and not decode:
      raise ValueError('Packed batches need both encoder_segment_ids and decoder_segment_ids '
                       '(the decoder must not read other segments of the encoder row).')
    if encoder_segment_ids is not None and decoder_segment_ids is not None:
      cross_mask = combine_masks(cross_mask,
                                 make_segment_mask(decoder_segment_ids, encoder_segment_ids))
    relative_position_bias = None
    if cfg.position_embedding == 'relative':
      relative_position_bias = _relative_position_bias(cfg, bidirectional=False)
    position_bias = None
    cache_length = self._cache_length() if decode else None
    if cache_length is None:
      # Causal only: decoder inputs start with pad id 0 as BOS, so padding is not masked by
      # token id (HF applies just the causal mask when no decoder_attention_mask is given).
      self_mask = make_causal_mask(decoder_input_tokens)  # (B, 1, T_dec, T_dec)
      if decoder_segment_ids is not None:
        self_mask = combine_masks(self_mask,
                                  make_segment_mask(decoder_segment_ids, decoder_segment_ids))
      positions = default_positions(decoder_input_tokens, decoder_positions, prefix)  # (B, T_dec)
      if relative_position_bias is not None:
        # Offsets within a packed segment equal those of 0..T-1: the bias ignores positions.
        position_bias = relative_position_bias(length, prefix + length, query_offset=prefix)
    else:
      # A step over the cache: the attention masks causally by cache index; the bias relates
      # this step's query positions to every cache slot (T5X slices the same values out of the
      # full (max_length, max_length) bias), and absolute or rotary positions are the step's.
      if decoder_segment_ids is not None:
        raise ValueError('decode=True does not take decoder_segment_ids: the cache holds one '
                         'sequence per row.')
      if decoder_positions is None:
        raise ValueError('decode=True needs decoder_positions (B, T_new), the positions of '
                         'decoder_input_tokens in the sequence being decoded.')
      self_mask = None
      positions = decoder_positions + prefix
      if relative_position_bias is not None:
        # Keys: the P prefix slots, then the cache's (positions P, P + 1, ...).
        position_bias = relative_position_bias.at_positions(
            positions, jnp.arange(prefix + cache_length, dtype=jnp.int32))  # (B, H, T_new, P+C)
    x = _embed(cfg, self.token_embedder(decoder_input_tokens), positions, deterministic)
    for i in range(cfg.num_decoder_layers):
      x = decoder_layer(cfg, name=f'layers_{i}')(x, encoded, self_mask, cross_mask,
                                                 position_bias, positions, deterministic, decode)
    return _final(cfg, x, deterministic)

  def _cache_length(self):
    """Slots in the self-attention KV cache, or None before the call that creates it (which
    only sizes the cache from its inputs and runs as a plain causal pass)."""
    cache = self.variables.get('cache', {})
    if 'layers_0' not in cache:
      return None
    return cache['layers_0']['self_attention'][CACHED_KEY].shape[1]


class T5(nn.Module):
  """T5; dropout is on exactly when a 'dropout' rng is passed to `apply`.

  Packed batches pass `*_segment_ids` (attention stays within a segment) and `*_positions`
  (restarting per segment; default 0..T-1). Absolute and rotary positions read them. T5's
  relative bias does not need them in a full pass: it depends only on offsets, and offsets within
  a packed segment are those of 0..T-1 (as T5X). Every position_embedding reads
  `decoder_positions` in `decode(..., decode=True)`, where a step's tokens sit at them.
  """
  family: ClassVar[str] = 'encoder_decoder'
  config: T5Config

  def setup(self):
    cfg = self.config
    self.token_embedder = Embed(cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype)
    self.encoder = Encoder(cfg, self.token_embedder)
    self.decoder = Decoder(cfg, self.token_embedder)
    if not cfg.tie_embeddings:
      # T5X's v1.1 logits layer init (fan-in normal).
      self.lm_head = nn.Dense(cfg.vocab_size, use_bias=False, dtype=cfg.compute_dtype,
                              param_dtype=jnp.float32,
                              kernel_init=nn.initializers.normal(cfg.d_model**-0.5))

  def __call__(self, encoder_input_tokens, decoder_input_tokens, encoder_segment_ids=None,
               decoder_segment_ids=None, encoder_positions=None, decoder_positions=None):
    """(B, T_enc), (B, T_dec) int tokens -> logits (B, T_dec, vocab_size) float32."""
    encoded = self.encode(encoder_input_tokens, encoder_segment_ids, encoder_positions)
    return self.decode(encoded, encoder_input_tokens, decoder_input_tokens, encoder_segment_ids,
                       decoder_segment_ids, decoder_positions)

  def encode(self, encoder_input_tokens, encoder_segment_ids=None, encoder_positions=None):
    """(B, T_enc) -> (B, T_enc, d_model)."""
    return self.encoder(encoder_input_tokens, encoder_segment_ids, encoder_positions,
                        deterministic=not self.has_rng('dropout'))

  def decode(self, encoded, encoder_input_tokens, decoder_input_tokens, encoder_segment_ids=None,
             decoder_segment_ids=None, decoder_positions=None, *, decode: bool = False):
    """Encoder output (B, T_enc, d_model) -> logits (B, T_dec, vocab_size) float32. The encoder
    inputs are the raw tokens; under prompt tuning `encoded` has its virtual tokens in front.

    With `decode=True` (and `mutable=['cache']`) the self-attention keys/values live in the
    'cache' collection: the first call sizes the cache from its decoder inputs (pass max-length
    dummies), later calls append their T_new tokens, at `decoder_positions` (B, T_new).
    Cross-attention caches the keys and values it projects from `encoded` on such a call; a later
    step may pass `encoded=None` to read them instead of projecting them again.
    """
    encoder_input_tokens, encoder_segment_ids, _, _ = virtual_tokens.prepend(
        self.token_embedder.prompt_length(), encoder_input_tokens, encoder_segment_ids)
    x = self.decoder(encoded, encoder_input_tokens, decoder_input_tokens,
                     deterministic=not self.has_rng('dropout'),
                     encoder_segment_ids=encoder_segment_ids,
                     decoder_segment_ids=decoder_segment_ids,
                     decoder_positions=decoder_positions, decode=decode)
    if self.config.tie_embeddings:
      # v1.0 rescales by d_model**-0.5 before the tied projection (Mesh TF; HF
      # scale_decoder_outputs); v1.1 unties and drops the rescale.
      logits = self.token_embedder.attend(x * self.config.d_model**-0.5)
    else:
      logits = self.lm_head(x)
    return logits.astype(jnp.float32)


@register_model('t5')
def build_t5(model_config) -> T5:
  return T5(T5Config.from_model_config(model_config))
