"""Import and export of reference checkpoints: local Hugging Face directories (config.json plus
model.safetensors or pytorch_model.bin) to and from lm_jax modules and variables."""
import json
import os
from typing import Any, Callable, Mapping

from lm_jax.convert import bert
from lm_jax.convert import gpt2, t5
from lm_jax.convert.t5 import t5_config_from_hf, to_hf

# HF `model_type` -> importer(path, hf_config) -> (module, {'params': ...}).
IMPORTERS: dict[str, Callable[[str, Mapping[str, Any]], tuple[Any, dict]]] = {
    'bert': bert.from_hf,
    'gpt2': gpt2.from_hf,
    't5': t5.from_hf,
}


def from_hf(path: str) -> tuple[Any, dict]:
  """Loads a local HF checkpoint directory as (flax module, {'params': float32 numpy arrays}).

  The architecture comes from config.json's `model_type`; see IMPORTERS for the supported ones.
  No download happens here: `path` must be a directory on disk (save a hub model with
  `save_pretrained(path)` on a machine with internet first).
  """
  config_file = os.path.join(path, 'config.json')
  if not os.path.isfile(config_file):
    raise FileNotFoundError(
        f'No config.json in {path!r}. from_hf reads local checkpoint directories only; on a '
        'machine with internet, save one with `AutoModel.from_pretrained(name).save_pretrained('
        'path)` and copy it here.')
  with open(config_file) as f:
    hf_config = json.load(f)
  model_type = hf_config.get('model_type')
  if model_type not in IMPORTERS:
    raise ValueError(f'Unsupported model_type {model_type!r} in {config_file}; lm_jax converts '
                     f'{sorted(IMPORTERS)}.')
  return IMPORTERS[model_type](path, hf_config)


__all__ = ['IMPORTERS', 'from_hf', 'to_hf', 't5_config_from_hf']
