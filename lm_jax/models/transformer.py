"""The original Transformer encoder-decoder (Vaswani et al. 2017, "Attention Is All You Need"),
base model by default: post-LN, ReLU FFN, sinusoidal positions, one shared token embedding."""
import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp

from lm_jax.models.attention import (make_attention_mask, make_decoder_mask, make_segment_mask,
                                     prefix_length)
from lm_jax.models import virtual_tokens
from lm_jax.models.layers import Dropout, Embed
from lm_jax.models.registry import register_model
from lm_jax.models.position_encoding import check_length, default_positions
from lm_jax.models.transformer_layers import (BlockConfig, layer_norm, transformer_layer,
                                              position_embedder)


@dataclasses.dataclass(frozen=True)
class TransformerConfig(BlockConfig):
  """The keys of `config.model` for `name='transformer'` (defaults: Transformer base, Table 3).

  dropout_rate is P_drop (§5.4) on every sublayer output and on the embedding sums; the paper
  names no dropout on attention probabilities, hence attention_dropout_rate 0.
  init_std: every projection kernel is normal(init_std), the one initialiser the shared layers
  take; d_model**-0.5 gives the d_model x d_model attention projections the variance of the
  Xavier/Glorot init of tensor2tensor and the Flax wmt example (2 / (fan_in + fan_out)), normal
  rather than uniform. Keep it near d_model**-0.5 when changing d_model. The token embedding is
  normal(d_model**-0.5) regardless (tensor2tensor), so the sqrt(d_model)-scaled inputs have unit
  variance like the sinusoids they are added to.
  max_length only bounds learned positions (the sinusoids and rotary embeddings have no table).
  """
  NAME = 'transformer'
  vocab_size: int = 32128  # one vocabulary shared by source and target (§3.4, §5.1)
  activation: str = 'relu'  # FFN(x) = max(0, x W1 + b1) W2 + b2 (§3.3)
  norm_position: str = 'post'  # LayerNorm(x + Sublayer(x)) (§3.1)
  position_embedding: str = 'sinusoidal'  # §3.5
  dropout_rate: float = 0.1
  attention_dropout_rate: float = 0.0
  layer_norm_epsilon: float = 1e-6  # tensor2tensor's LayerNorm epsilon
  init_std: float = 512**-0.5
  num_encoder_layers: int = 6  # N = 6 (§3.1)
  num_decoder_layers: int = 6

  def __post_init__(self):
    super().__post_init__()
    self.require_positive_ints('num_encoder_layers', 'num_decoder_layers')


def _embed(cfg: TransformerConfig, x, positions, deterministic: bool):
  """Token vectors x (B, T, d_model) -> Dropout(x * sqrt(d_model) + PE(positions)) (§3.4, §3.5,
  §5.4).

  Called inside the encoder's and the decoder's compact methods, so each stack owns its
  learned position table (as in the Flax wmt example); sinusoids and rope have no parameters.
  """
  x = x * cfg.d_model**0.5
  position_vectors = position_embedder(cfg, name='position_embedder')(positions)
  if position_vectors is not None:  # None for rope: positions rotate queries and keys instead
    x = x + position_vectors
  return Dropout(cfg.dropout_rate, name='embedding_dropout')(x, deterministic)


class Encoder(nn.Module):
  """N self-attention + FFN layers over the source, keys masked by padding and segments."""
  config: TransformerConfig
  token_embedder: Embed

  @nn.compact
  def __call__(self, tokens, segment_ids, positions, deterministic: bool):
    cfg = self.config
    embedded = self.token_embedder.with_prompt(tokens)  # prompt tuning's rows in front, if any
    tokens, segment_ids, positions, _ = virtual_tokens.prepend(
        self.token_embedder.prompt_length(), tokens, segment_ids, positions)
    prefix = prefix_length(self)
    check_length(cfg.position_embedding, cfg.max_length, prefix + tokens.shape[-1],
                 'encoder_input_tokens')
    positions = default_positions(tokens, positions, prefix)
    x = _embed(cfg, embedded, positions, deterministic)
    mask = make_attention_mask(tokens, tokens)  # (B, 1, T_enc, T_enc)
    if segment_ids is not None:
      mask = jnp.logical_and(mask, make_segment_mask(segment_ids, segment_ids))
    for i in range(cfg.num_encoder_layers):
      x = transformer_layer(cfg, name=f'layers_{i}')(x, mask, deterministic, positions=positions)
    if cfg.norm_position == 'pre':
      # Pre-LN leaves the residual stream unnormalised; post-LN layers already end in LayerNorm.
      x = layer_norm(cfg, 'final_norm')(x)
    return x


class Decoder(nn.Module):
  """N causal self-attention + cross-attention + FFN layers over the shifted target."""
  config: TransformerConfig
  token_embedder: Embed

  @nn.compact
  def __call__(self, encoded, encoder_tokens, tokens, encoder_segment_ids, segment_ids,
               positions, deterministic: bool, decode: bool):
    cfg = self.config
    prefix = prefix_length(self)
    check_length(cfg.position_embedding, cfg.max_length, prefix + tokens.shape[-1],
                 'decoder_input_tokens')
    if decode:
      # The cache supplies the causal mask over earlier steps; new tokens need their positions.
      if positions is None:
        raise ValueError('decode=True needs decoder_positions (B, T_new): the positions of the '
                         'new decoder tokens.')
      if segment_ids is not None or encoder_segment_ids is not None:
        raise ValueError('decode=True decodes one unpacked sequence per row; pass no segment ids.')
      self_mask = None
      positions = positions + prefix
    else:
      if (segment_ids is None) != (encoder_segment_ids is None):
        raise ValueError('Packed batches need both encoder_segment_ids and decoder_segment_ids '
                         '(the decoder must not read other segments of the encoder row).')
      positions = default_positions(tokens, positions, prefix)
      # Causal within segments; never masked by token id (decoder inputs start with pad id 0).
      self_mask = make_decoder_mask(tokens, segment_ids)  # (B, 1, T_dec, T_dec)
    cross_mask = make_attention_mask(tokens, encoder_tokens)  # (B, 1, T_dec, T_enc)
    if segment_ids is not None:
      cross_mask = jnp.logical_and(cross_mask, make_segment_mask(segment_ids, encoder_segment_ids))
    x = _embed(cfg, self.token_embedder(tokens), positions, deterministic)
    for i in range(cfg.num_decoder_layers):
      x = transformer_layer(cfg, has_cross_attention=True, decode=decode, name=f'layers_{i}')(
          x, self_mask, deterministic, positions=positions, encoded=encoded,
          cross_mask=cross_mask)
    if cfg.norm_position == 'pre':
      x = layer_norm(cfg, 'final_norm')(x)
    return x


class Transformer(nn.Module):
  """Encoder-decoder with the token embedding shared by both inputs and the output (§3.4).

  Dropout is on exactly when a 'dropout' rng is passed to `apply`. Cached decoding: call `decode`
  with `decode=True, mutable=['cache']` once with (B, max_decode_length) dummy decoder inputs to
  size the cache, then with each step's new tokens and their positions. Cross-attention caches
  the keys and values it projects from `encoded` on a decode=True call; a later step may pass
  `encoded=None` to read them instead of projecting them again.
  """
  config: TransformerConfig
  family: ClassVar[str] = 'encoder_decoder'

  def setup(self):
    cfg = self.config
    self.token_embedder = Embed(cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype,
                                embedding_init=nn.initializers.normal(cfg.d_model**-0.5))
    self.encoder = Encoder(cfg, self.token_embedder)
    self.decoder = Decoder(cfg, self.token_embedder)

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
    """Encoder output (B, T_enc, d_model) -> logits (B, T_dec, vocab_size) float32; the encoder
    inputs are the raw tokens (prompt tuning's virtual ones are added here)."""
    encoder_input_tokens, encoder_segment_ids, _, _ = virtual_tokens.prepend(
        self.token_embedder.prompt_length(), encoder_input_tokens, encoder_segment_ids)
    x = self.decoder(encoded, encoder_input_tokens, decoder_input_tokens, encoder_segment_ids,
                     decoder_segment_ids, decoder_positions,
                     deterministic=not self.has_rng('dropout'), decode=decode)
    # The pre-softmax projection is the transposed input embedding, without the sqrt(d) (§3.4).
    return self.token_embedder.attend(x).astype(jnp.float32)


@register_model('transformer')
def build_transformer(model_config) -> Transformer:
  return Transformer(TransformerConfig.from_model_config(model_config))
