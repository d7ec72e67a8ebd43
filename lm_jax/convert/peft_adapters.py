"""Hugging Face peft LoRA adapters (`adapter_config.json` + `adapter_model.safetensors`) to and
from lm_jax's adapter trees (lm_jax/peft/lora.py), through each converter's name map.

peft's LoRA on a torch Linear or a GPT-2 Conv1D adds (alpha/r)·B·A to the weight in torch's
layout; in flax's (in, out) kernel layout that is A.T·B.T, so `lora_a = lora_A.weight.T` (in, r)
and `lora_b = lora_B.weight.T` (r, out). GPT-2's fused `c_attn` splits exactly: its B's output
columns are query, key and value side by side, and the three share its A.

`modules_to_save` modules train as full copies; peft (0.21) writes their tensors under the base's
names (`base_model.model.lm_head.weight`), which the name map reads like a checkpoint's. lm_jax
calls them the `head`: a params subtree that replaces the base's before LoRA is merged.
"""
import json
import math
import os
from typing import Any, Mapping

import numpy as np
from flax import traverse_util
from safetensors.numpy import save_file

from lm_jax.convert import bert, gpt2, t5
from lm_jax.convert.hf_files import flax_paths, load_safetensors
from lm_jax.peft.lora import LORA_A, LORA_B, LoraSpec

CONFIG_FILE, WEIGHTS_FILE = 'adapter_config.json', 'adapter_model.safetensors'
_PREFIX = 'base_model.model.'
# HF model_type -> (config.json -> module config, name map, name canonicaliser).
_MAPS = {
    't5': (t5.t5_config_from_hf, t5.param_map, None),
    'gpt2': (gpt2.gpt_config_from_hf, gpt2.param_map, gpt2.canonical_names),
    'bert': (bert.bert_config_from_hf, bert.param_map, bert.canonical_names),
}


def _unsupported(config: Mapping[str, Any]) -> list[str]:
  """The options of a peft (0.21) LoRA adapter that lm_jax does not implement, named."""
  found = []
  init = config.get('init_lora_weights', True)
  if isinstance(init, str) and init.split('_')[0] in ('pissa', 'olora', 'corda', 'loftq'):
    found.append(f'init_lora_weights={init!r} (it changes the base weights)')
  for key, value in config.items():
    if key in ('use_dora', 'lora_bias', 'use_qalora') and value:
      found.append(f'{key}={value!r}')
    elif key == 'bias' and value != 'none':
      found.append(f'bias={value!r}')
    elif key in ('rank_pattern', 'alpha_pattern') and value:
      found.append(f'{key}={value!r}')
    elif key in ('layers_to_transform', 'layer_replication', 'trainable_token_indices',
                 'target_parameters', 'alora_invocation_tokens') and value:
      found.append(f'{key}={value!r}')
  return found


def read_config(adapter_dir: str) -> dict:
  path = os.path.join(adapter_dir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No {CONFIG_FILE} in {adapter_dir!r}: a peft adapter directory is '
                            'what `PeftModel.save_pretrained(path)` writes.')
  with open(path) as f:
    config = json.load(f)
  if config.get('peft_type') != 'LORA':
    raise ValueError(f'{path} holds a {config.get("peft_type")!r} adapter; lm_jax imports LORA '
                     'adapters.')
  unsupported = _unsupported(config)
  if unsupported:
    raise ValueError(f'{path} uses peft options lm_jax does not implement: '
                     f'{"; ".join(unsupported)}.')
  return config


def spec_from_config(config: Mapping[str, Any]) -> LoraSpec:
  init = config.get('init_lora_weights', True)
  return LoraSpec(rank=int(config['r']), alpha=float(config['lora_alpha']),
                  dropout=float(config.get('lora_dropout', 0.0)),
                  use_rslora=bool(config.get('use_rslora', False)),
                  init='gaussian' if init == 'gaussian' else 'kaiming')


def _name_map(hf_config: Mapping[str, Any]) -> tuple[dict, Any]:
  model_type = hf_config.get('model_type')
  if model_type not in _MAPS:
    raise ValueError(f'peft adapters import for model_type {sorted(_MAPS)}; got {model_type!r}.')
  make_config, param_map, canonical = _MAPS[model_type]
  return param_map(make_config(hf_config)), canonical or (lambda tensors: tensors)


def load_adapter(adapter_dir: str, hf_config: Mapping[str, Any]) -> tuple[LoraSpec, dict, dict]:
  """(spec, adapters, head) of a peft LoRA adapter on the base whose config.json is `hf_config`;
  `head`: the params of its `modules_to_save` modules, which replace the base's."""
  config = read_config(adapter_dir)
  spec = spec_from_config(config)
  tensors = load_safetensors(os.path.join(adapter_dir, WEIGHTS_FILE))
  names, canonical = _name_map(hf_config)
  flat, saved = {}, {}
  for key in sorted(tensors):
    if not key.endswith('.lora_A.weight'):
      if not key.endswith('.lora_B.weight'):
        saved[key] = tensors[key]
      continue
    module = key[:-len('.lora_A.weight')]
    weight = next(iter(canonical({module.removeprefix(_PREFIX) + '.weight': None})))
    if weight not in names:
      raise ValueError(f'{adapter_dir}: the adapted layer {module} has no counterpart in '
                       'lm_jax\'s model.')
    paths, _ = names[weight]
    paths = flax_paths(paths)
    a = tensors[key].T  # (in, r)
    b = tensors[module + '.lora_B.weight'].T  # (r, out): the paths' columns side by side
    for path, part in zip(paths, np.split(b, len(paths), axis=-1)):
      flat[path[:-1] + (LORA_A,)] = np.ascontiguousarray(a)
      flat[path[:-1] + (LORA_B,)] = np.ascontiguousarray(part)
  head = _read_saved_modules(adapter_dir, saved, config.get('modules_to_save') or (), names,
                             canonical)
  return spec, traverse_util.unflatten_dict(flat), traverse_util.unflatten_dict(head)


def _read_saved_modules(adapter_dir, tensors, modules_to_save, names, canonical) -> dict:
  """{flax path: value} of the modules_to_save tensors, each through the converter's name map.

  An entry that matches no tensor is left alone: peft skips one that names no module of the
  base (as `task_type`'s defaults ['classifier', 'score'] do), so it changes nothing there.
  """
  flat = {}
  for key in tensors:
    parts = key.removeprefix(_PREFIX).split('.')[:-1]
    # peft matches a modules_to_save entry as a plain suffix of a module's name, and saves the
    # tensors of everything inside that module.
    if not any('.'.join(parts[:i]).endswith(entry)
               for i in range(1, len(parts) + 1) for entry in modules_to_save):
      raise ValueError(f'{adapter_dir}: tensor {key} is not a LoRA A or B weight, nor of a '
                       f'module in modules_to_save {list(modules_to_save)}; lm_jax imports LoRA '
                       'adapters of Linear and Conv1D layers.')
  for name, value in canonical({k.removeprefix(_PREFIX): v for k, v in tensors.items()}).items():
    module = name.rsplit('.', 1)[0]
    if name not in names:
      raise ValueError(f'{adapter_dir}: modules_to_save module {module} (tensor {name}) has no '
                       'counterpart in lm_jax\'s model.')
    paths, is_linear = names[name]
    paths = flax_paths(paths)
    _check_not_shared(paths, module)
    value = value.T if is_linear else value
    for path, part in zip(paths, np.split(value, len(paths), axis=-1)):
      flat[path] = np.ascontiguousarray(part)
  return flat


def _check_not_shared(paths, module: str) -> None:
  if any(path[0] == 'token_embedder' for path in paths):
    raise ValueError(f'modules_to_save module {module} holds the token embedding, which HF also '
                     "uses elsewhere (T5's encoder and decoder, a tied output layer) where peft's "
                     'copy does not reach; lm_jax\'s one table cannot express that.')


def with_head(params: Mapping[str, Any], head: Mapping[str, Any]) -> dict:
  """`params` with `head`'s parameters (modules_to_save) in place of the base's."""
  flat = traverse_util.flatten_dict(params)
  for path, value in traverse_util.flatten_dict(head).items():
    if path not in flat:
      raise ValueError(f'modules_to_save parameter {"/".join(path)} is not in the base model.')
    if np.shape(flat[path]) != np.shape(value):
      raise ValueError(f'modules_to_save parameter {"/".join(path)} has shape {np.shape(value)}; '
                       f'the base\'s has {np.shape(flat[path])}.')
    flat[path] = value
  return traverse_util.unflatten_dict(flat)


def _head_tensors(head: Mapping[str, Any], names: Mapping[str, Any]) -> dict:
  """peft's modules_to_save tensors ({HF name: value}) for lm_jax's `head` params."""
  flat = traverse_util.flatten_dict(head)
  tensors, used = {}, set()
  for name, (paths, is_linear) in names.items():
    paths = flax_paths(paths)
    given = [p for p in paths if p in flat]
    if not given:
      continue
    module = name.rsplit('.', 1)[0]
    if len(given) < len(paths):
      missing = ', '.join('/'.join(p) for p in paths if p not in flat)
      raise ValueError(f'head holds part of HF\'s fused {name}; it needs {missing} too.')
    _check_not_shared(paths, module)
    value = np.concatenate([np.asarray(flat[p], np.float32) for p in paths], axis=-1)
    tensors[name] = np.ascontiguousarray(value.T if is_linear else value)
    used.update(paths)
  unknown = sorted('/'.join(p) for p in set(flat) - used)
  if unknown:
    raise ValueError(f'head parameters {", ".join(unknown)} map to no module of the Hugging Face '
                     'model, so peft\'s modules_to_save cannot hold them.')
  return tensors


def save_adapter(spec: LoraSpec, adapters: Mapping[str, Any], hf_config: Mapping[str, Any],
                 path: str, base_model_name_or_path: str | None = None,
                 head: Mapping[str, Any] | None = None) -> None:
  """Writes `adapters` as a peft LoRA adapter directory for the HF model of `hf_config`, and
  `head` (params that replace the base's, keyed like the model's) as its modules_to_save.

  A fused HF layer (GPT-2's c_attn) whose lm_jax projections carry k separate rank-r adapters
  becomes one rank k·r adapter: A stacks their A's, B is block-diagonal over their output
  columns (zeros for a projection without one), and alpha grows to keep alpha/r (k·alpha;
  sqrt(k)·alpha under rsLoRA). peft has one rank for all layers, so every layer is written at
  the largest k·r, the unused rows of A and columns of B zero: the update is unchanged.
  """
  names, _ = _name_map(hf_config)
  flat = traverse_util.flatten_dict(adapters)
  layers = {}  # HF weight name -> (its lm_jax modules, those with an adapter)
  for weight, (paths, _) in names.items():
    paths = flax_paths(paths)
    modules = [p[:-1] for p in paths]
    adapted = [m for m in modules if m + (LORA_A,) in flat]
    if adapted and weight.endswith('.weight'):
      layers[weight] = (modules, adapted)
  if not layers:
    raise ValueError('No adapted layer of these adapters maps onto the Hugging Face model.')
  k = max(len(adapted) for _, adapted in layers.values())
  rank = k * spec.rank
  tensors = {}
  for weight, (modules, adapted) in layers.items():
    a = np.zeros((np.asarray(flat[adapted[0] + (LORA_A,)]).shape[0], rank), np.float32)
    width = np.asarray(flat[adapted[0] + (LORA_B,)]).shape[1]
    b = np.zeros((rank, width * len(modules)), np.float32)
    for i, m in enumerate(adapted):
      block, j = slice(i * spec.rank, (i + 1) * spec.rank), modules.index(m)
      a[:, block] = np.asarray(flat[m + (LORA_A,)])
      b[block, j * width:(j + 1) * width] = np.asarray(flat[m + (LORA_B,)])
    module = _PREFIX + weight[:-len('.weight')]
    tensors[module + '.lora_A.weight'] = np.ascontiguousarray(a.T)
    tensors[module + '.lora_B.weight'] = np.ascontiguousarray(b.T)
  saved = _head_tensors(head or {}, names)
  modules_to_save = sorted({name.rsplit('.', 1)[0] for name in saved})
  both = sorted(set(modules_to_save) & {w[:-len('.weight')] for w in layers})
  if both:
    raise ValueError(f'{", ".join(both)} would both take an adapter and be saved whole; peft '
                     'trains a module one way or the other.')
  tensors.update({_PREFIX + name: value for name, value in saved.items()})
  config = {'peft_type': 'LORA', 'task_type': None, 'r': rank,
            'lora_alpha': spec.alpha * (math.sqrt(k) if spec.use_rslora else k),
            'lora_dropout': spec.dropout, 'use_rslora': spec.use_rslora,
            # Full module names: GPT-2's c_proj is the attention's and the MLP's.
            'target_modules': sorted(w[:-len('.weight')] for w in layers), 'bias': 'none',
            'fan_in_fan_out': hf_config.get('model_type') == 'gpt2',
            'init_lora_weights': True, 'modules_to_save': modules_to_save or None,
            'base_model_name_or_path': base_model_name_or_path, 'inference_mode': True}
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, CONFIG_FILE), 'w') as f:
    json.dump(config, f, indent=2)
  save_file(tensors, os.path.join(path, WEIGHTS_FILE))
