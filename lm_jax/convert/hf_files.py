"""Reading the tensors of a local Hugging Face checkpoint directory into lm_jax parameters,
whatever the model: each converter only supplies its name map."""
import json
import os

import jax
import numpy as np
from flax import traverse_util
from safetensors import safe_open

from lm_jax import families


def load_safetensors(filename: str) -> dict[str, np.ndarray]:
  # The flax framework reads bfloat16 (numpy cannot); keep the arrays on the host.
  with jax.default_device(jax.devices('cpu')[0]), safe_open(filename, framework='flax') as f:
    return {k: np.asarray(f.get_tensor(k)).astype(np.float32) for k in f.keys()}


def load_hf_tensors(path: str) -> dict[str, np.ndarray]:
  """All tensors of an HF checkpoint directory as float32 numpy arrays."""
  safetensors_file = os.path.join(path, 'model.safetensors')
  index_file = os.path.join(path, 'model.safetensors.index.json')
  torch_file = os.path.join(path, 'pytorch_model.bin')
  if os.path.exists(safetensors_file):
    return load_safetensors(safetensors_file)
  if os.path.exists(index_file):
    with open(index_file) as f:
      shards = sorted(set(json.load(f)['weight_map'].values()))
    tensors = {}
    for shard in shards:
      tensors.update(load_safetensors(os.path.join(path, shard)))
    return tensors
  if os.path.exists(torch_file):
    try:
      import torch  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise ImportError(f'{torch_file} is a PyTorch pickle and needs torch to read; install '
                        'torch or convert the checkpoint to model.safetensors.') from e
    state = torch.load(torch_file, map_location='cpu', weights_only=True)
    return {k: v.float().numpy() for k, v in state.items()}
  raise FileNotFoundError(f'No model.safetensors, model.safetensors.index.json or '
                          f'pytorch_model.bin in {path!r}.')


def check_alias(tensors, name: str, reference: str, reason: str):
  if name in tensors and not np.array_equal(tensors.pop(name), tensors[reference]):
    raise ValueError(f'Checkpoint tensor {name} differs from {reference}; {reason}')


def param_shapes(model) -> dict:
  """Flat {flax path: ShapeDtypeStruct} of the model's parameters, without computing them."""
  tokens = jax.ShapeDtypeStruct((1, 1), np.int32)
  num_inputs = len(families.of(model).inputs)
  shapes = jax.eval_shape(model.init, jax.random.key(0), *[tokens] * num_inputs)
  return traverse_util.flatten_dict(shapes['params'])


def flax_paths(paths) -> tuple:
  """A name map's flax path, or tuple of paths (a fused tensor's parts), as a tuple of paths."""
  return (paths,) if isinstance(paths[0], str) else paths


def params_from_tensors(checkpoint: str, tensors: dict, names: dict, model) -> dict:
  """{'params': ...} for `model` from HF `tensors`, checked against the model's shapes.

  names: HF tensor name -> (flax path, or a tuple of flax paths, is a torch Linear weight to
  transpose). Several paths split the tensor's last axis in order (GPT-2's fused query/key/value).
  Missing, unexpected and mis-shaped tensors raise ValueError naming them.
  """
  missing = sorted(set(names) - set(tensors))
  unexpected = sorted(set(tensors) - set(names))
  if missing or unexpected:
    raise ValueError(f'Checkpoint {checkpoint!r} does not match its config.json: missing tensors '
                     f'{missing}, unexpected tensors {unexpected}.')
  expected = param_shapes(model)
  params = {}
  for name, (paths, is_linear) in names.items():
    paths = flax_paths(paths)
    value = tensors[name].T if is_linear else tensors[name]
    widths = [expected[p].shape[-1] for p in paths]
    implied = (*expected[paths[0]].shape[:-1], sum(widths))
    if value.shape != implied:
      raise ValueError(f'Checkpoint tensor {name} has shape {tensors[name].shape}; config.json '
                       f'implies {implied[::-1] if is_linear else implied}.')
    for param_path, part in zip(paths, np.split(value, np.cumsum(widths)[:-1], axis=-1)):
      params[param_path] = np.ascontiguousarray(part)
  return {'params': traverse_util.unflatten_dict(params)}
