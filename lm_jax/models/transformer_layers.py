"""The Transformer layer shared by GPT-, BERT- and Vaswani-style models, configured by `BlockConfig`:
LayerNorm before (pre-LN) or after (post-LN) each residual sublayer, biased projections, learned,
sinusoidal or rotary positions, exact or fused attention."""
import dataclasses
from typing import Optional

import flax.linen as nn

from lm_jax.models.attention import IMPLEMENTATIONS, MultiHeadAttention
from lm_jax.models.layers import (NORM_POSITIONS, Dropout, LayerNorm, MlpBlock, RMSNorm,
                                  residual)
from lm_jax.models.model_config import DTYPE_OPTIONS, ModelConfig
from lm_jax.models.remat import REMAT_POLICIES, rematerialized
from lm_jax.models.position_encoding import (POSITION_EMBEDDINGS, PositionEmbedding,
                                             PositionOptions)

ACTIVATIONS = ('gelu', 'gelu_tanh', 'relu', 'swiglu')
NORMS = ('layer_norm', 'rms_norm')


@dataclasses.dataclass(frozen=True)
class BlockConfig(PositionOptions, ModelConfig):
  """Keys every GPT/BERT/Transformer model config shares; the families add their own and defaults.

  norm_position: 'pre' is LayerNorm(x) -> sublayer -> + x, with a final LayerNorm (GPT-2);
    'post' is LayerNorm(x + sublayer(x)) (Vaswani et al., BERT).
  position_embedding: 'learned' (a table of max_length rows), 'sinusoidal' (§3.5 of Vaswani et
    al.) or 'rope' (rotary embeddings on queries and keys, nothing added to the embeddings).
  attention_impl: 'fused' runs `jax.nn.dot_product_attention` (cuDNN flash attention on GPU in
    bf16, XLA elsewhere) whenever attention dropout is off; 'exact' spells out the math.
  A Llama-style decoder is these options: norm='rms_norm', activation='swiglu',
    position_embedding='rope', use_bias=False, num_kv_heads < num_heads (grouped-query
    attention; 0 means num_heads), tie_embeddings=False (configs/llama_style.py).
  """
  vocab_size: int = 32128
  d_model: int = 512
  num_heads: int = 8
  head_dim: int = 64
  d_ff: int = 2048
  activation: str = 'gelu'
  use_bias: bool = True
  norm_position: str = 'post'
  layer_norm_epsilon: float = 1e-5
  dropout_rate: float = 0.1
  attention_dropout_rate: float = 0.1
  init_std: float = 0.02
  position_embedding: str = 'learned'
  max_length: int = 512
  rope_base: float = 10_000.0
  attention_impl: str = 'exact'
  dtype: str = 'float32'
  remat_policy: str = 'none'  # what each layer recomputes in the backward pass (remat.py)
  norm: str = 'layer_norm'   # or 'rms_norm': scale only, no mean and no bias (Llama, T5)
  num_kv_heads: int = 0      # grouped-query attention's key/value heads; 0: num_heads

  def __post_init__(self):
    self.require_positive_ints('vocab_size', 'd_model', 'num_heads', 'head_dim', 'd_ff',
                               'max_length')
    self.require_choice('activation', ACTIVATIONS)
    self.require_choice('norm_position', NORM_POSITIONS)
    self.require_choice('position_embedding', POSITION_EMBEDDINGS)
    self.require_choice('attention_impl', IMPLEMENTATIONS)
    self.require_choice('dtype', DTYPE_OPTIONS)
    self.require_choice('remat_policy', REMAT_POLICIES)
    self.require_choice('norm', NORMS)
    self.require(isinstance(self.num_kv_heads, int) and self.num_kv_heads >= 0
                 and (self.num_kv_heads == 0 or self.num_heads % self.num_kv_heads == 0),
                 'num_kv_heads', f'must be 0 (= num_heads) or divide num_heads={self.num_heads}')
    self.require_bool('use_bias')
    for key in ('dropout_rate', 'attention_dropout_rate'):
      self.require(0.0 <= getattr(self, key) < 1.0, key, 'must be in [0, 1)')
    for key in ('layer_norm_epsilon', 'init_std'):
      self.require(getattr(self, key) > 0, key, 'must be > 0')
    self.require_position_options()


def layer_norm(cfg: BlockConfig, name: str) -> LayerNorm | RMSNorm:
  if cfg.norm == 'rms_norm':
    return RMSNorm(cfg.layer_norm_epsilon, cfg.compute_dtype, name=name)
  return LayerNorm(cfg.layer_norm_epsilon, cfg.compute_dtype, name=name)


def position_embedder(cfg: BlockConfig, **kwargs) -> PositionEmbedding:
  """The absolute position vectors of a BlockConfig (None for rope); pass name= in compact code."""
  return PositionEmbedding(cfg.position_embedding, cfg.max_length, cfg.d_model, cfg.init_std,
                           cfg.compute_dtype, **kwargs)


class TransformerLayer(nn.Module):
  """Self-attention, optional cross-attention over an encoder output, then the MLP.

  `out_init_std` sets the init of the projections that write into the residual stream (GPT-2
  scales them by 1/sqrt(2 * num_layers)); None uses `init_std`.
  """
  config: BlockConfig
  has_cross_attention: bool = False
  out_init_std: Optional[float] = None
  # With the KV cache (an attribute, not a call argument: remat traces the call's arguments).
  decode: bool = False

  def _attention(self, name: str, rope: Optional[float],
                 static_kv: bool = False) -> MultiHeadAttention:
    cfg = self.config
    return MultiHeadAttention(cfg.num_heads, cfg.head_dim, cfg.attention_dropout_rate,
                              scale_scores=True, use_bias=cfg.use_bias, init_std=cfg.init_std,
                              out_init_std=self.out_init_std, rope_base=rope,
                              implementation=cfg.attention_impl, dtype=cfg.compute_dtype,
                              num_kv_heads=cfg.num_kv_heads or None, static_kv=static_kv,
                              name=name)

  def _residual(self, name: str, sublayer, x, deterministic: bool):
    cfg = self.config
    return residual(cfg.norm_position, layer_norm(cfg, f'{name}_norm'), Dropout(cfg.dropout_rate),
                    sublayer, x, deterministic)

  @nn.compact
  def __call__(self, x, mask, deterministic: bool, *, positions=None, encoded=None,
               cross_mask=None, prefix=None):
    """x (B, T, d_model); mask (B, 1, T, T) or None; positions (B, T) for rotary embeddings;
    encoded (B, T_enc, d_model) and cross_mask (B, 1, T, T_enc) with cross-attention; encoded
    None in a decoding step reads the keys and values cached from it; prefix (B, T) a prefix
    LM's prompt tokens in cached decoding (MultiHeadAttention)."""
    cfg = self.config
    self_attention = self._attention('self_attention', cfg.rope)
    x = self._residual(
        'self_attention',
        lambda y: self_attention(y, y, mask, None, deterministic, query_positions=positions,
                                 key_positions=positions, decode=self.decode, prefix=prefix), x,
        deterministic)
    if self.has_cross_attention:
      # Decoding caches its keys and values: `encoded` is None on the steps after the first.
      cross_attention = self._attention('cross_attention', None, static_kv=True)
      x = self._residual('cross_attention',
                         lambda y: cross_attention(y, encoded, cross_mask, None, deterministic,
                                                   decode=self.decode), x, deterministic)
    # No dropout inside the MLP: GPT-2, BERT and Vaswani et al. drop only sublayer outputs.
    mlp = MlpBlock(cfg.d_ff, cfg.activation, 0.0, cfg.compute_dtype,
                   use_bias=cfg.use_bias, init_std=cfg.init_std, out_init_std=self.out_init_std,
                   name='mlp')
    return self._residual('mlp', lambda y: mlp(y, deterministic), x, deterministic)


def transformer_layer(cfg: BlockConfig, **kwargs) -> TransformerLayer:
  """A TransformerLayer, rematerialised as cfg.remat_policy says (deterministic is argument
  3)."""
  return rematerialized(TransformerLayer, cfg.remat_policy, static_argnums=(3,))(cfg, **kwargs)
