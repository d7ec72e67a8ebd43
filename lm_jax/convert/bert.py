"""Hugging Face BERT checkpoints (`BertForMaskedLM`, also `BertForPreTraining`) to lm_jax's Bert."""
from typing import Any, Mapping

import numpy as np

from lm_jax.convert.hf_files import check_alias, load_hf_tensors, params_from_tensors
from lm_jax.models.bert import Bert, BertConfig

# HF `hidden_act` -> BertConfig.activation. 'gelu' is the exact erf form; 'gelu_new' and
# 'gelu_pytorch_tanh' are both the tanh approximation.
_ACTIVATIONS = {'gelu': 'gelu', 'gelu_new': 'gelu_tanh', 'gelu_pytorch_tanh': 'gelu_tanh',
                'relu': 'relu'}
# Tensors a checkpoint may carry that BertForMaskedLM does not use (HF drops them on load too):
# the pooler and the next-sentence head of BertForPreTraining checkpoints, and the constant
# position_ids / token_type_ids buffers older transformers versions saved.
_UNUSED = ('bert.pooler.dense.weight', 'bert.pooler.dense.bias',
           'cls.seq_relationship.weight', 'cls.seq_relationship.bias',
           'bert.embeddings.position_ids', 'bert.embeddings.token_type_ids')
_WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight'
_OUTPUT_BIAS = 'cls.predictions.bias'


def bert_config_from_hf(hf_config: Mapping[str, Any]) -> BertConfig:
  """Maps an HF BERT config.json dict to a BertConfig (missing keys take HF's defaults)."""
  if hf_config.get('model_type') != 'bert':
    raise ValueError(f"Unsupported model_type {hf_config.get('model_type')!r}; expected 'bert'.")
  position_type = hf_config.get('position_embedding_type', 'absolute')
  if position_type != 'absolute':
    raise ValueError(f'Unsupported position_embedding_type {position_type!r}; lm_jax converts '
                     "BERT checkpoints with 'absolute' (learned) position embeddings only.")
  if hf_config.get('is_decoder', False):
    raise ValueError('config.json has is_decoder=true (a causal BertLMHeadModel); lm_jax '
                     'converts bidirectional BERT encoders only.')
  if not hf_config.get('tie_word_embeddings', True):
    raise ValueError('config.json has tie_word_embeddings=false; lm_jax ties the MLM decoder to '
                     'the word embeddings as BERT does.')
  hidden_act = hf_config.get('hidden_act', 'gelu')
  if hidden_act not in _ACTIVATIONS:
    raise ValueError(f'Unsupported hidden_act {hidden_act!r}; expected one of '
                     f'{sorted(_ACTIVATIONS)}.')
  d_model = hf_config.get('hidden_size', 768)
  num_heads = hf_config.get('num_attention_heads', 12)
  if d_model % num_heads:
    raise ValueError(f'hidden_size {d_model} is not a multiple of num_attention_heads '
                     f'{num_heads}.')
  return BertConfig(
      vocab_size=hf_config.get('vocab_size', 30522),
      d_model=d_model,
      num_heads=num_heads,
      head_dim=d_model // num_heads,
      d_ff=hf_config.get('intermediate_size', 3072),
      num_layers=hf_config.get('num_hidden_layers', 12),
      max_length=hf_config.get('max_position_embeddings', 512),
      type_vocab_size=hf_config.get('type_vocab_size', 2),
      activation=_ACTIVATIONS[hidden_act],
      use_bias=True,
      norm_position='post',
      layer_norm_epsilon=float(hf_config.get('layer_norm_eps', 1e-12)),
      dropout_rate=float(hf_config.get('hidden_dropout_prob', 0.1)),
      attention_dropout_rate=float(hf_config.get('attention_probs_dropout_prob', 0.1)),
      init_std=float(hf_config.get('initializer_range', 0.02)),
      position_embedding='learned',
      # HF's default is 0 ([PAD]); a null one means the tokenizer's mask alone marked padding.
      pad_token_id=_pad_token_id(hf_config))


def _pad_token_id(hf_config: Mapping[str, Any]) -> int:
  pad = hf_config.get('pad_token_id', 0)
  return 0 if pad is None else int(pad)


def param_map(cfg: BertConfig) -> dict[str, tuple[tuple[str, ...], bool]]:
  """HF tensor name -> (flax param path, is a torch Linear weight to transpose)."""
  names = {
      _WORD_EMBEDDINGS: (('token_embedder', 'embedding'), False),
      'bert.embeddings.position_embeddings.weight': (('position_embedder', 'embedding'), False),
      'bert.embeddings.token_type_embeddings.weight': (('token_type_embedder', 'embedding'),
                                                       False),
      _OUTPUT_BIAS: (('mlm_head', 'bias'), False),
  }

  def linear(hf, ours):
    names[f'{hf}.weight'] = ((*ours, 'kernel'), True)
    names[f'{hf}.bias'] = ((*ours, 'bias'), False)

  def norm(hf, ours):
    names[f'{hf}.weight'] = ((*ours, 'scale'), False)
    names[f'{hf}.bias'] = ((*ours, 'bias'), False)

  norm('bert.embeddings.LayerNorm', ('embedding_norm',))
  linear('cls.predictions.transform.dense', ('mlm_head', 'transform'))
  norm('cls.predictions.transform.LayerNorm', ('mlm_head', 'transform_norm'))
  for i in range(cfg.num_layers):
    hf, ours = f'bert.encoder.layer.{i}', f'layers_{i}'
    for proj in ('query', 'key', 'value'):
      linear(f'{hf}.attention.self.{proj}', (ours, 'self_attention', proj))
    linear(f'{hf}.attention.output.dense', (ours, 'self_attention', 'out'))
    norm(f'{hf}.attention.output.LayerNorm', (ours, 'self_attention_norm'))
    linear(f'{hf}.intermediate.dense', (ours, 'mlp', 'wi'))
    linear(f'{hf}.output.dense', (ours, 'mlp', 'wo'))
    norm(f'{hf}.output.LayerNorm', (ours, 'mlp_norm'))
  return names


def canonical_names(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Old (TF-converted) checkpoints name LayerNorm parameters gamma/beta; HF renames them too."""
  renamed = {}
  for name, value in tensors.items():
    if name.endswith('LayerNorm.gamma'):
      name = name[:-len('gamma')] + 'weight'
    elif name.endswith('LayerNorm.beta'):
      name = name[:-len('beta')] + 'bias'
    renamed[name] = value
  return renamed


def from_hf(path: str, hf_config: Mapping[str, Any]) -> tuple[Bert, dict]:
  """Loads a local HF BERT checkpoint directory as (Bert module, {'params': float32 numpy})."""
  cfg = bert_config_from_hf(hf_config)
  tensors = canonical_names(load_hf_tensors(path))
  for name in _UNUSED:
    tensors.pop(name, None)
  # transformers >= 5 saves the tied decoder weight/bias once; older versions wrote both copies.
  if _OUTPUT_BIAS not in tensors and 'cls.predictions.decoder.bias' in tensors:
    tensors[_OUTPUT_BIAS] = tensors.pop('cls.predictions.decoder.bias')
  if _OUTPUT_BIAS in tensors:
    check_alias(tensors, 'cls.predictions.decoder.bias', _OUTPUT_BIAS,
                'the MLM output bias is one vector in BertForMaskedLM.')
  if _WORD_EMBEDDINGS in tensors:
    check_alias(tensors, 'cls.predictions.decoder.weight', _WORD_EMBEDDINGS,
                'lm_jax ties the MLM decoder to the word embeddings, as BertForMaskedLM does.')

  model = Bert(cfg)
  return model, params_from_tensors(path, tensors, param_map(cfg), model)
