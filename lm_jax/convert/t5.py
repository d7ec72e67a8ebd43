"""Hugging Face T5 checkpoints (`T5ForConditionalGeneration`) to and from lm_jax's T5."""
import json
import os
from typing import Any, Mapping

import numpy as np
from flax import traverse_util
from safetensors.numpy import save_file

from lm_jax.convert.hf_files import check_alias, load_hf_tensors, params_from_tensors
from lm_jax.models.t5 import T5, T5Config

# HF stores the shared embedding again under these names (tied); they must equal shared.weight.
_TIED_EMBEDDING_ALIASES = ('encoder.embed_tokens.weight', 'decoder.embed_tokens.weight')
# Old HF checkpoints carry this unused tensor; HF ignores it on load too.
_IGNORED = ('decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight',)


def t5_config_from_hf(hf_config: Mapping[str, Any]) -> T5Config:
  """Maps an HF T5 config.json dict to a T5Config (dropout and dtype as in the checkpoint/default)."""
  if hf_config.get('model_type') != 't5':
    raise ValueError(f"Unsupported model_type {hf_config.get('model_type')!r}; only 't5' "
                     '(T5 v1.0 and v1.1) checkpoints can be converted.')
  feed_forward = hf_config.get('feed_forward_proj', 'relu')
  if feed_forward not in ('relu', 'gated-gelu'):
    raise ValueError(f"Unsupported feed_forward_proj {feed_forward!r}; expected 'relu' or "
                     "'gated-gelu'.")
  # transformers >= 5 saves tie_word_embeddings=True always and records v1.1's missing output
  # rescale as scale_decoder_outputs=False; older configs signal both with tie_word_embeddings.
  scaled = hf_config.get('scale_decoder_outputs', hf_config.get('tie_word_embeddings', True))
  num_layers = hf_config.get('num_layers', 6)
  return T5Config(
      vocab_size=hf_config.get('vocab_size', 32128),
      d_model=hf_config.get('d_model', 512),
      num_heads=hf_config.get('num_heads', 8),
      head_dim=hf_config.get('d_kv', 64),
      d_ff=hf_config.get('d_ff', 2048),
      num_encoder_layers=num_layers,
      num_decoder_layers=hf_config.get('num_decoder_layers') or num_layers,
      feed_forward=feed_forward,
      tie_embeddings=bool(scaled),
      dropout_rate=float(hf_config.get('dropout_rate', 0.1)),
      relative_attention_num_buckets=hf_config.get('relative_attention_num_buckets', 32),
      relative_attention_max_distance=hf_config.get('relative_attention_max_distance', 128),
      layer_norm_epsilon=float(hf_config.get('layer_norm_epsilon', 1e-6)))


def param_map(cfg: T5Config) -> dict[str, tuple[tuple[str, ...], bool]]:
  """HF tensor name -> (flax param path, is a torch Linear weight to transpose), for the
  relative/pre T5 that HF has (t5_config_from_hf leaves both at their defaults)."""
  _check_hf_expressible(cfg)
  names = {'shared.weight': (('token_embedder', 'embedding'), False)}
  if not cfg.tie_embeddings:
    names['lm_head.weight'] = (('lm_head', 'kernel'), True)
  mlp = ('wi_0', 'wi_1', 'wo') if cfg.feed_forward == 'gated-gelu' else ('wi', 'wo')
  for stack, num_layers in (('encoder', cfg.num_encoder_layers),
                            ('decoder', cfg.num_decoder_layers)):
    names[f'{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight'] = (
        (stack, 'relative_position_bias', 'embedding'), False)
    names[f'{stack}.final_layer_norm.weight'] = ((stack, 'final_norm', 'scale'), False)
    attentions = [('SelfAttention', 'self_attention', 'pre_self_attention_norm')]
    if stack == 'decoder':
      attentions.append(('EncDecAttention', 'cross_attention', 'pre_cross_attention_norm'))
    for i in range(num_layers):
      hf, ours = f'{stack}.block.{i}.layer', (stack, f'layers_{i}')
      for j, (hf_attention, attention, norm) in enumerate(attentions):
        names[f'{hf}.{j}.layer_norm.weight'] = ((*ours, norm, 'scale'), False)
        for hf_proj, proj in zip('qkvo', ('query', 'key', 'value', 'out')):
          names[f'{hf}.{j}.{hf_attention}.{hf_proj}.weight'] = (
              (*ours, attention, proj, 'kernel'), True)
      j = len(attentions)
      names[f'{hf}.{j}.layer_norm.weight'] = ((*ours, 'pre_mlp_norm', 'scale'), False)
      for w in mlp:
        names[f'{hf}.{j}.DenseReluDense.{w}.weight'] = ((*ours, 'mlp', w, 'kernel'), True)
  return names


def from_hf(path: str, hf_config: Mapping[str, Any]) -> tuple[T5, dict]:
  """Loads a local HF T5 checkpoint directory as (T5 module, {'params': float32 numpy})."""
  cfg = t5_config_from_hf(hf_config)
  tensors = load_hf_tensors(path)
  for name in _IGNORED:
    tensors.pop(name, None)
  if 'shared.weight' in tensors:
    for name in _TIED_EMBEDDING_ALIASES:
      check_alias(tensors, name, 'shared.weight', 'encoder/decoder embeddings must be shared.')
    if cfg.tie_embeddings:
      check_alias(tensors, 'lm_head.weight', 'shared.weight',
                   'an untied lm_head with v1.0 output scaling is not supported.')
    elif 'lm_head.weight' not in tensors and hf_config.get('tie_word_embeddings', True):
      # Unscaled but tied (how transformers >= 5 saves v1.1): an untied head starting equal.
      tensors['lm_head.weight'] = tensors['shared.weight']

  model = T5(cfg)
  return model, params_from_tensors(path, tensors, param_map(cfg), model)


def _check_hf_expressible(cfg: T5Config) -> None:
  """HF's T5 has relative position bias and pre-norm only; refuse the ablations before writing."""
  for key, need in (('position_embedding', 'relative'), ('norm_position', 'pre')):
    if getattr(cfg, key) != need:
      raise ValueError(f"HF T5 needs config.model.{key} = {need!r}, got {getattr(cfg, key)!r}; "
                       'only T5 itself (relative position bias, pre-norm) exports to '
                       'T5ForConditionalGeneration.')


def to_hf(config, variables: Mapping[str, Any], path: str) -> None:
  """Writes config.json + model.safetensors loadable by `T5ForConditionalGeneration`.

  Only what HF's T5 can express: position_embedding 'relative' and norm_position 'pre' (the
  name map refuses the rest before anything is written).
  """
  cfg = config if isinstance(config, T5Config) else T5Config.from_model_config(config)
  params = traverse_util.flatten_dict(variables['params'])
  names = param_map(cfg)
  expected = {param_path for param_path, _ in names.values()}
  if set(params) != expected:
    raise ValueError(f'Parameters do not match the config: missing '
                     f'{sorted("/".join(p) for p in expected - set(params))}, unexpected '
                     f'{sorted("/".join(p) for p in set(params) - expected)}.')
  tensors = {}
  for name, (param_path, is_linear) in names.items():
    value = np.asarray(params[param_path], dtype=np.float32)
    tensors[name] = np.ascontiguousarray(value.T if is_linear else value)
  hf_config = {
      'architectures': ['T5ForConditionalGeneration'],
      'model_type': 't5',
      'vocab_size': cfg.vocab_size,
      'd_model': cfg.d_model,
      'd_kv': cfg.head_dim,
      'd_ff': cfg.d_ff,
      'num_layers': cfg.num_encoder_layers,
      'num_decoder_layers': cfg.num_decoder_layers,
      'num_heads': cfg.num_heads,
      'relative_attention_num_buckets': cfg.relative_attention_num_buckets,
      'relative_attention_max_distance': cfg.relative_attention_max_distance,
      'dropout_rate': cfg.dropout_rate,
      'layer_norm_epsilon': cfg.layer_norm_epsilon,
      'feed_forward_proj': cfg.feed_forward,
      'tie_word_embeddings': cfg.tie_embeddings,
      'is_encoder_decoder': True,
      'pad_token_id': 0,
      'eos_token_id': 1,
      'decoder_start_token_id': 0,
  }
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, 'config.json'), 'w') as f:
    json.dump(hf_config, f, indent=2)
  save_file(tensors, os.path.join(path, 'model.safetensors'), metadata={'format': 'pt'})
