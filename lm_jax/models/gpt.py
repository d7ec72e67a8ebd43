"""GPT-2-style decoder-only language model (Radford et al. 2019), numerically matching HF's GPT-2;
rotary positions, post-LN (GPT-1) and fused attention through the shared `BlockConfig`."""
import dataclasses
import math
from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp

from lm_jax.models import virtual_tokens
from lm_jax.models.attention import make_decoder_mask, prefix_length
from lm_jax.models.layers import Dropout, Embed
from lm_jax.models.registry import register_model
from lm_jax.models.position_encoding import check_length, default_positions
from lm_jax.models.transformer_layers import (BlockConfig, layer_norm, transformer_layer,
                                              position_embedder)


@dataclasses.dataclass(frozen=True)
class GPTConfig(BlockConfig):
  """The keys of `config.model` for `name='gpt'` (defaults: GPT-2 small, 124M parameters).

  `dropout_rate` is GPT-2's resid_pdrop and embd_pdrop (one value for both);
  `attention_dropout_rate` its attn_pdrop.
  """
  NAME = 'gpt'
  vocab_size: int = 50257
  d_model: int = 768
  num_heads: int = 12
  head_dim: int = 64
  d_ff: int = 3072
  num_layers: int = 12
  max_length: int = 1024
  activation: str = 'gelu_tanh'  # HF's gelu_new, the tanh approximation of GPT-2's code
  norm_position: str = 'pre'
  layer_norm_epsilon: float = 1e-5
  dropout_rate: float = 0.1
  attention_dropout_rate: float = 0.1
  init_std: float = 0.02
  position_embedding: str = 'learned'
  tie_embeddings: bool = True
  # A linear value head on the last hidden state, for advantage-weighted regression (pretraining
  # with human preferences): its (B, T) values are sown into the 'intermediates' collection, so
  # the logits stay the model's one output.
  value_head: bool = False

  def __post_init__(self):
    super().__post_init__()
    self.require_positive_ints('num_layers')
    self.require_bool('tie_embeddings')
    self.require_bool('value_head')


class GPT(nn.Module):
  """Token + position embeddings, `num_layers` Transformer layers, a (tied) output projection.

  Dropout is on exactly when a 'dropout' rng is passed to `apply`.
  """
  config: GPTConfig
  family: ClassVar[str] = 'decoder_only'

  @nn.compact
  def __call__(self, decoder_input_tokens, decoder_segment_ids=None, decoder_positions=None,
               decoder_causal_attention=None, *, decode: bool = False):
    """(B, T) int tokens -> logits (B, T, vocab_size) float32.

    decoder_segment_ids (B, T): packed documents (1, 2, ...; 0 = padding) attend within their
      own segment only. decoder_positions (B, T): positions restarting per segment (default
      0..T-1). decoder_causal_attention (B, T): 1 on a prefix-LM's inputs, which attend to each
      other bidirectionally (T5X). With `decode=True` the keys and values are cached (see
      `MultiHeadAttention`): decoder_positions is required and the masks come from the cache;
      decoder_causal_attention then marks the call's prompt tokens, which see every cached
      prompt token (a prefix LM's prompt, fed whole, is read as in training).
    """
    cfg = self.config
    deterministic = not self.has_rng('dropout')
    embedder = Embed(cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype,
                     embedding_init=nn.initializers.normal(cfg.init_std), name='token_embedder')
    x = embedder.with_prompt(decoder_input_tokens)  # (B, T, d_model), prompt tuning's rows first
    prompt = embedder.prompt_length()
    if prompt and decode:
      raise ValueError('A prompt-tuned decoder-only model decodes without the KV cache (its '
                       'virtual tokens lead every full pass); lm_jax.generate does so itself.')
    decoder_input_tokens, decoder_segment_ids, decoder_positions, decoder_causal_attention = (
        virtual_tokens.prepend(prompt, decoder_input_tokens, decoder_segment_ids,
                               decoder_positions, decoder_causal_attention))
    prefix = prefix_length(self)
    check_length(cfg.position_embedding, cfg.max_length, prefix + decoder_input_tokens.shape[-1],
                 'decoder_input_tokens')
    if decode:
      if decoder_positions is None:
        raise ValueError('Cached decoding (decode=True) needs decoder_positions: the position of '
                         'each new token is not its index in this call.')
      if decoder_segment_ids is not None:
        raise ValueError('Cached decoding (decode=True) takes its mask from the cache; pass '
                         'decoder_segment_ids as None.')
      mask = None
    else:
      mask = make_decoder_mask(decoder_input_tokens, decoder_segment_ids,
                               decoder_causal_attention)  # (B, 1, T, T)
    positions = default_positions(decoder_input_tokens, decoder_positions, prefix)  # (B, T)
    position_vectors = position_embedder(cfg, name='position_embedder')(positions)
    if position_vectors is not None:  # None for rotary embeddings, applied inside attention
      x = x + position_vectors
    x = Dropout(cfg.dropout_rate)(x, deterministic)
    # GPT-2 §2.3: residual projections initialised with std / sqrt(N), N = 2 per layer.
    out_init_std = cfg.init_std / math.sqrt(2 * cfg.num_layers)
    prompt_tokens = decoder_causal_attention if decode else None  # in the mask otherwise
    for i in range(cfg.num_layers):
      x = transformer_layer(cfg, out_init_std=out_init_std, decode=decode, name=f'layers_{i}')(
          x, mask, deterministic, positions=positions, prefix=prompt_tokens)
    if cfg.norm_position == 'pre':
      # GPT-2 §2.3: "an additional layer normalization was added after the final self-attention
      # block"; post-LN layers end normalised already.
      x = layer_norm(cfg, 'final_norm')(x)
    if cfg.value_head:
      values = nn.Dense(1, dtype=cfg.compute_dtype, param_dtype=jnp.float32,
                        kernel_init=nn.initializers.normal(cfg.init_std), name='value_head')(x)
      self.sow('intermediates', 'values', values[:, prompt:, 0].astype(jnp.float32))
    if cfg.tie_embeddings:
      logits = embedder.attend(x)
    else:
      logits = nn.Dense(cfg.vocab_size, use_bias=False, dtype=cfg.compute_dtype,
                        param_dtype=jnp.float32,
                        kernel_init=nn.initializers.normal(cfg.init_std), name='lm_head')(x)
    return logits[:, prompt:].astype(jnp.float32)  # the virtual tokens predict nothing


@register_model('gpt')
def build_gpt(model_config) -> GPT:
  return GPT(GPTConfig.from_model_config(model_config))
