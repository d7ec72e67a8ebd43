"""Hugging Face GPT-2 checkpoints (`GPT2LMHeadModel`, model_type 'gpt2') to and from lm_jax's
GPT."""
import json
import os
from typing import Any, Mapping

import numpy as np
from flax import traverse_util
from safetensors.numpy import save_file

from lm_jax.convert.hf_files import check_alias, load_hf_tensors, params_from_tensors
from lm_jax.models.gpt import GPT, GPTConfig

# HF `activation_function` -> GPTConfig.activation. gelu_new is the tanh approximation that
# OpenAI's GPT-2 code uses; gelu_pytorch_tanh is the same function computed by torch.
_ACTIVATIONS = {'gelu_new': 'gelu_tanh', 'gelu_pytorch_tanh': 'gelu_tanh', 'gelu': 'gelu',
                'relu': 'relu'}
_HF_ACTIVATIONS = {'gelu_tanh': 'gelu_new', 'gelu': 'gelu', 'relu': 'relu'}
# Causal-mask buffers that older transformers versions saved with every attention layer; HF
# ignores them on load, and lm_jax builds its masks from the inputs.
_IGNORED_SUFFIXES = ('.attn.bias', '.attn.masked_bias')
_PREFIX = 'transformer.'


def gpt_config_from_hf(hf_config: Mapping[str, Any]) -> GPTConfig:
  """Maps an HF GPT-2 config.json dict to a GPTConfig; rejects options GPT does not implement."""
  if hf_config.get('model_type') != 'gpt2':
    raise ValueError(f"Unsupported model_type {hf_config.get('model_type')!r}; only 'gpt2' "
                     'checkpoints (GPT2LMHeadModel) can be converted.')
  unsupported = {
      'scale_attn_by_inverse_layer_idx': (True, 'scales layer i scores by 1/(i+1)'),
      'scale_attn_weights': (False, 'leaves scores unscaled by 1/sqrt(head_dim)'),
      'add_cross_attention': (True, 'adds encoder-decoder cross-attention'),
  }
  for key, (value, what) in unsupported.items():
    if hf_config.get(key, not value) == value:
      raise ValueError(f'Unsupported GPT-2 option {key}={value} in config.json ({what}); lm_jax '
                       'GPT has no such variant.')
  # reorder_and_upcast_attn only changes where a mixed-precision run upcasts; lm_jax computes
  # scores and softmax in float32 always, so it needs no flag.
  activation = hf_config.get('activation_function', 'gelu_new')
  if activation not in _ACTIVATIONS:
    raise ValueError(f'Unsupported activation_function {activation!r}; lm_jax GPT converts '
                     f'{sorted(_ACTIVATIONS)}.')
  resid_pdrop = float(hf_config.get('resid_pdrop', 0.1))
  embd_pdrop = float(hf_config.get('embd_pdrop', 0.1))
  if resid_pdrop != embd_pdrop:
    raise ValueError(f'config.json has embd_pdrop={embd_pdrop} and resid_pdrop={resid_pdrop}; '
                     'lm_jax GPT uses one dropout_rate for both. Set them equal in config.json.')
  d_model, num_heads = hf_config.get('n_embd', 768), hf_config.get('n_head', 12)
  if d_model % num_heads:
    raise ValueError(f'n_embd={d_model} is not divisible by n_head={num_heads}.')
  return GPTConfig(
      vocab_size=hf_config.get('vocab_size', 50257),
      d_model=d_model,
      num_heads=num_heads,
      head_dim=d_model // num_heads,
      d_ff=hf_config.get('n_inner') or 4 * d_model,
      num_layers=hf_config.get('n_layer', 12),
      max_length=hf_config.get('n_positions', 1024),
      activation=_ACTIVATIONS[activation],
      layer_norm_epsilon=float(hf_config.get('layer_norm_epsilon', 1e-5)),
      dropout_rate=resid_pdrop,
      attention_dropout_rate=float(hf_config.get('attn_pdrop', 0.1)),
      init_std=float(hf_config.get('initializer_range', 0.02)),
      tie_embeddings=bool(hf_config.get('tie_word_embeddings', True)))


def param_map(cfg: GPTConfig) -> dict[str, tuple[tuple[tuple[str, ...], ...], bool]]:
  """HF tensor name -> (flax param paths, is a torch Linear weight to transpose).

  HF's Conv1D weights are stored (in, out) like flax kernels. A tensor with several paths is
  split evenly along its last axis: c_attn holds query, key and value side by side.
  """
  names = {
      'transformer.wte.weight': ((('token_embedder', 'embedding'),), False),
      'transformer.wpe.weight': ((('position_embedder', 'embedding'),), False),
      'transformer.ln_f.weight': ((('final_norm', 'scale'),), False),
      'transformer.ln_f.bias': ((('final_norm', 'bias'),), False),
  }
  for i in range(cfg.num_layers):
    hf, layer = f'transformer.h.{i}', f'layers_{i}'
    for hf_norm, norm in (('ln_1', 'self_attention_norm'), ('ln_2', 'mlp_norm')):
      names[f'{hf}.{hf_norm}.weight'] = (((layer, norm, 'scale'),), False)
      names[f'{hf}.{hf_norm}.bias'] = (((layer, norm, 'bias'),), False)
    for param, ours in (('weight', 'kernel'), ('bias', 'bias')):
      names[f'{hf}.attn.c_attn.{param}'] = (
          tuple((layer, 'self_attention', proj, ours) for proj in ('query', 'key', 'value')),
          False)
      names[f'{hf}.attn.c_proj.{param}'] = (((layer, 'self_attention', 'out', ours),), False)
      names[f'{hf}.mlp.c_fc.{param}'] = (((layer, 'mlp', 'wi', ours),), False)
      names[f'{hf}.mlp.c_proj.{param}'] = (((layer, 'mlp', 'wo', ours),), False)
  if not cfg.tie_embeddings:
    names['lm_head.weight'] = ((('lm_head', 'kernel'),), True)
  return names


def canonical_names(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Drops the old mask buffers and adds the 'transformer.' prefix that checkpoints saved from
  a bare `GPT2Model` (the hub's original gpt2 ... gpt2-xl) lack."""
  canonical = {}
  for name, value in tensors.items():
    if name.endswith(_IGNORED_SUFFIXES):
      continue
    if name != 'lm_head.weight' and not name.startswith(_PREFIX):
      name = _PREFIX + name
    canonical[name] = value
  return canonical


def from_hf(path: str, hf_config: Mapping[str, Any]) -> tuple[GPT, dict]:
  """Loads a local HF GPT-2 checkpoint directory as (GPT module, {'params': float32 numpy})."""
  cfg = gpt_config_from_hf(hf_config)
  tensors = canonical_names(load_hf_tensors(path))
  if cfg.tie_embeddings and 'transformer.wte.weight' in tensors:
    check_alias(tensors, 'lm_head.weight', 'transformer.wte.weight',
                'config.json ties them (tie_word_embeddings); set it to false for an untied '
                'output layer.')
  model = GPT(cfg)
  return model, params_from_tensors(path, tensors, param_map(cfg), model)


def to_hf(config, variables: Mapping[str, Any], path: str) -> None:
  """Writes config.json + model.safetensors loadable by `GPT2LMHeadModel`.

  Only what HF's GPT-2 can express: pre-LN, learned positions, biases, head_dim * num_heads ==
  d_model. Token ids (bos/eos/pad) are the tokenizer's business and left at HF's defaults.
  """
  cfg = config if isinstance(config, GPTConfig) else GPTConfig.from_model_config(config)
  for ok, key, need in ((cfg.norm_position == 'pre', 'norm_position', "'pre'"),
                        (cfg.position_embedding == 'learned', 'position_embedding', "'learned'"),
                        (cfg.use_bias, 'use_bias', 'True'),
                        (cfg.num_heads * cfg.head_dim == cfg.d_model, 'head_dim',
                         'd_model // num_heads')):
    if not ok:
      raise ValueError(f'HF GPT-2 needs config.model.{key} = {need}, got '
                       f'{getattr(cfg, key)!r}.')
  params = traverse_util.flatten_dict(variables['params'])
  names = param_map(cfg)
  expected = {p for paths, _ in names.values() for p in paths}
  if set(params) != expected:
    raise ValueError(f'Parameters do not match the config: missing '
                     f'{sorted("/".join(p) for p in expected - set(params))}, unexpected '
                     f'{sorted("/".join(p) for p in set(params) - expected)}.')
  tensors = {}
  for name, (paths, is_linear) in names.items():
    value = np.concatenate([np.asarray(params[p], np.float32) for p in paths], axis=-1)
    tensors[name] = np.ascontiguousarray(value.T if is_linear else value)
  hf_config = {
      'architectures': ['GPT2LMHeadModel'],
      'model_type': 'gpt2',
      'vocab_size': cfg.vocab_size,
      'n_embd': cfg.d_model,
      'n_layer': cfg.num_layers,
      'n_head': cfg.num_heads,
      'n_inner': cfg.d_ff,
      'n_positions': cfg.max_length,
      'activation_function': _HF_ACTIVATIONS[cfg.activation],
      'layer_norm_epsilon': cfg.layer_norm_epsilon,
      'resid_pdrop': cfg.dropout_rate,
      'embd_pdrop': cfg.dropout_rate,
      'attn_pdrop': cfg.attention_dropout_rate,
      'initializer_range': cfg.init_std,
      'scale_attn_weights': True,
      'tie_word_embeddings': cfg.tie_embeddings,
  }
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, 'config.json'), 'w') as f:
    json.dump(hf_config, f, indent=2)
  save_file(tensors, os.path.join(path, 'model.safetensors'), metadata={'format': 'pt'})
