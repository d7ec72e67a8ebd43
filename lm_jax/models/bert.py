"""BERT (Devlin et al. 2019): an encoder-only Transformer with a masked-LM head, numerically
matching HF's BertForMaskedLM, and the same encoder with a sequence-classification head."""
import dataclasses
import functools
from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp

from lm_jax.models.attention import (combine_masks, make_attention_mask, make_segment_mask,
                                     prefix_length)
from lm_jax.models import virtual_tokens
from lm_jax.models.layers import Dropout, Embed
from lm_jax.models.registry import register_model
from lm_jax.models.position_encoding import check_length, default_positions
from lm_jax.models.transformer_layers import (BlockConfig, layer_norm, transformer_layer,
                                              position_embedder)

# The MLM head's transform uses the same activation as the MLPs (HF `hidden_act`).
ACTIVATION_FNS = {
    'gelu': functools.partial(nn.gelu, approximate=False),  # BERT's exact erf gelu
    'gelu_tanh': functools.partial(nn.gelu, approximate=True),
    'relu': nn.relu,
}


@dataclasses.dataclass(frozen=True)
class BertConfig(BlockConfig):
  """The keys of `config.model` for `name='bert'` (defaults: BERT-base, 110M parameters)."""
  NAME = 'bert'
  vocab_size: int = 30522
  d_model: int = 768
  num_heads: int = 12
  head_dim: int = 64
  d_ff: int = 3072
  num_layers: int = 12
  max_length: int = 512
  type_vocab_size: int = 2  # segment A / segment B of BERT's sentence pairs (§3.2)
  activation: str = 'gelu'
  norm_position: str = 'post'
  layer_norm_epsilon: float = 1e-12
  dropout_rate: float = 0.1
  attention_dropout_rate: float = 0.1
  init_std: float = 0.02
  position_embedding: str = 'learned'
  # The tokenizer's pad id, which the attention mask and the classifier's pooling leave out:
  # HF BERT's [PAD] is 0, as lm_jax's SentencePiece pad; an imported config.json says its own.
  pad_token_id: int = 0

  def __post_init__(self):
    super().__post_init__()
    self.require_positive_ints('num_layers', 'type_vocab_size')
    self.require_choice('activation', ACTIVATION_FNS)  # the MLM head's transform applies it too
    self.require(not isinstance(self.pad_token_id, bool) and isinstance(self.pad_token_id, int)
                 and 0 <= self.pad_token_id < self.vocab_size, 'pad_token_id',
                 f'must be a token id in [0, vocab_size={self.vocab_size})')


@dataclasses.dataclass(frozen=True)
class BertClassifierConfig(BertConfig):
  """The keys of `config.model` for `name='bert_classifier'`: BERT's plus the class count."""
  NAME = 'bert_classifier'
  num_classes: int = 2

  def __post_init__(self):
    super().__post_init__()
    self.require_positive_ints('num_classes')


class MlmHead(nn.Module):
  """HF BertLMPredictionHead: Dense -> activation -> LayerNorm, then the word embeddings
  transposed plus a per-token output bias (the tied output layer of the original BERT code,
  run_pretraining.py `get_masked_lm_output`)."""
  config: BertConfig
  token_embedder: Embed

  @nn.compact
  def __call__(self, x):
    cfg = self.config
    x = nn.Dense(cfg.d_model, dtype=cfg.compute_dtype, param_dtype=jnp.float32,
                 kernel_init=nn.initializers.normal(cfg.init_std), name='transform')(x)
    x = layer_norm(cfg, 'transform_norm')(ACTIVATION_FNS[cfg.activation](x))
    bias = self.param('bias', nn.initializers.zeros, (cfg.vocab_size,), jnp.float32)
    return self.token_embedder.attend(x).astype(jnp.float32) + bias  # (B, T, vocab_size)


class BertEncoder(nn.Module):
  """BERT's embeddings and layer stack, shared by the MLM model and the classifier so that both
  name their parameters alike (an MLM checkpoint loads into the classifier's backbone).

  Embeddings are word + position + token type, LayerNorm-ed and dropped out (HF
  BertEmbeddings); that norm stays with pre-LN layers, which add `final_norm` after the stack.
  Dropout is on exactly when a 'dropout' rng is passed to `apply`.
  """
  config: BertConfig

  def setup(self):
    cfg = self.config
    embedding_init = nn.initializers.normal(cfg.init_std)
    self.token_embedder = Embed(cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype,
                                embedding_init=embedding_init)
    self.token_type_embedder = Embed(cfg.type_vocab_size, cfg.d_model, dtype=cfg.compute_dtype,
                                     embedding_init=embedding_init)
    self.position_embedder = position_embedder(cfg)
    self.embedding_norm = layer_norm(cfg, 'embedding_norm')
    self.dropout = Dropout(cfg.dropout_rate)
    self.layers = [transformer_layer(cfg) for _ in range(cfg.num_layers)]  # layers_0, ...
    if cfg.norm_position == 'pre':
      self.final_norm = layer_norm(cfg, 'final_norm')

  def encode(self, encoder_input_tokens, encoder_segment_ids=None, encoder_positions=None,
             encoder_token_type_ids=None):
    """(B, T) int tokens -> final hidden states (B, T, d_model), the input of task heads.

    Segment ids (packed rows) confine attention to each segment; token type ids (default 0)
    are BERT's sentence A/B embeddings and do not mask anything.
    """
    cfg = self.config
    deterministic = not self.has_rng('dropout')
    embedded = self.token_embedder.with_prompt(encoder_input_tokens)  # prompt tuning's rows first
    prompt = self.token_embedder.prompt_length()
    token_types = (jnp.zeros_like(encoder_input_tokens) if encoder_token_type_ids is None
                   else encoder_token_type_ids)
    tokens, encoder_segment_ids, encoder_positions, _ = virtual_tokens.prepend(
        prompt, encoder_input_tokens, encoder_segment_ids, encoder_positions)
    token_types = virtual_tokens.in_front(prompt, 0, token_types)  # sentence A
    prefix = prefix_length(self)
    check_length(cfg.position_embedding, cfg.max_length, prefix + tokens.shape[-1],
                 'encoder_input_tokens')
    positions = default_positions(tokens, encoder_positions, prefix)
    x = embedded + self.token_type_embedder(token_types)  # (B, T, d_model)
    position_vectors = self.position_embedder(positions)  # None for rotary embeddings
    if position_vectors is not None:
      x = x + position_vectors
    x = self.dropout(self.embedding_norm(x), deterministic)
    # Keys masked by the pad id (HF attention_mask = ids != pad), and by segment when packed.
    mask = combine_masks(
        make_attention_mask(tokens, tokens, pad_id=cfg.pad_token_id),
        None if encoder_segment_ids is None else make_segment_mask(encoder_segment_ids,
                                                                   encoder_segment_ids))
    for layer in self.layers:
      x = layer(x, mask, deterministic, positions=positions)
    if cfg.norm_position == 'pre':
      x = self.final_norm(x)
    return x[:, prompt:]  # the heads read the real tokens (the prompt shaped them)


class Bert(BertEncoder):
  """BERT with its masked-LM head."""
  family: ClassVar[str] = 'encoder_only'

  def setup(self):
    super().setup()
    self.mlm_head = MlmHead(self.config, self.token_embedder)

  def __call__(self, encoder_input_tokens, encoder_segment_ids=None, encoder_positions=None,
               encoder_token_type_ids=None):
    """(B, T) int tokens -> MLM logits (B, T, vocab_size) float32."""
    encoded = self.encode(encoder_input_tokens, encoder_segment_ids, encoder_positions,
                          encoder_token_type_ids)
    return self.mlm_head(encoded)


class BertClassifier(BertEncoder):
  """BERT with a sequence-classification head (HF BertForSequenceClassification's layout).

  HF pools the hidden state of the first token, [CLS]; lm_jax's rows start with no [CLS] (its
  SentencePiece tokenizers have none), so the first position holds an ordinary word and is a
  poor summary of the row.
  The pooler reads instead the mean of the final hidden states over the non-pad tokens (as
  Sentence-BERT does), then Dense + tanh ('pooler'), dropout, Dense to the classes
  ('classifier'). The head runs in float32: it sees one vector per row, so its cost is nil.
  """
  family: ClassVar[str] = 'encoder_classifier'
  config: BertClassifierConfig

  def setup(self):
    super().setup()
    cfg = self.config
    dense = functools.partial(nn.Dense, dtype=jnp.float32, param_dtype=jnp.float32,
                              kernel_init=nn.initializers.normal(cfg.init_std))
    self.pooler = dense(cfg.d_model)
    self.classifier = dense(cfg.num_classes)

  def __call__(self, encoder_input_tokens, encoder_segment_ids=None, encoder_positions=None,
               encoder_token_type_ids=None):
    """(B, T) int tokens -> class logits (B, num_classes) float32."""
    encoded = self.encode(encoder_input_tokens, encoder_segment_ids, encoder_positions,
                          encoder_token_type_ids).astype(jnp.float32)  # (B, T, d_model)
    real = (encoder_input_tokens != self.config.pad_token_id)[..., None]  # (B, T, 1)
    # An all-padding row (a filler row of the last eval batch) pools to zeros, not NaN.
    pooled = (jnp.sum(jnp.where(real, encoded, 0.0), axis=1)
              / jnp.maximum(jnp.sum(real, axis=1), 1))  # (B, d_model)
    pooled = jnp.tanh(self.pooler(pooled))
    pooled = self.dropout(pooled, not self.has_rng('dropout'))
    return self.classifier(pooled)  # (B, num_classes)


@register_model('bert')
def build_bert(model_config) -> Bert:
  return Bert(BertConfig.from_model_config(model_config))


@register_model('bert_classifier')
def build_bert_classifier(model_config) -> BertClassifier:
  return BertClassifier(BertClassifierConfig.from_model_config(model_config))
