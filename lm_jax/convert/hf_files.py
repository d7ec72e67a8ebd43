"""Reading the tensors of a local Hugging Face checkpoint directory, whatever the model."""
import json
import os

import jax
import numpy as np
from safetensors import safe_open


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
