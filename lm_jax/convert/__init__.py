"""Import and export of reference checkpoints: local Hugging Face directories (config.json plus
model.safetensors or pytorch_model.bin) to and from lm_jax modules and variables."""
import json
import os
from typing import Any, Callable, Mapping

from lm_jax.convert import bert
from lm_jax.convert import gpt2, t5
from lm_jax.convert.t5 import t5_config_from_hf, to_hf
from lm_jax.models.bert import Bert
from lm_jax.models.gpt import GPT
from lm_jax.models.t5 import T5

# HF `model_type` -> importer(path, hf_config) -> (module, {'params': ...}).
IMPORTERS: dict[str, Callable[[str, Mapping[str, Any]], tuple[Any, dict]]] = {
    'bert': bert.from_hf,
    'gpt2': gpt2.from_hf,
    't5': t5.from_hf,
}

# HF `model_type` -> (config.json dict -> module config, module class): the module alone.
MODULES: dict[str, tuple[Callable[[Mapping[str, Any]], Any], type]] = {
    'bert': (bert.bert_config_from_hf, Bert),
    'gpt2': (gpt2.gpt_config_from_hf, GPT),
    't5': (t5_config_from_hf, T5),
}


def from_hf(path: str) -> tuple[Any, dict]:
  """Loads a local HF checkpoint directory as (flax module, {'params': float32 numpy arrays}).

  The architecture comes from config.json's `model_type`; see IMPORTERS for the supported ones.
  No download happens here: `path` must be a directory on disk (save a hub model with
  `save_pretrained(path)` on a machine with internet first).
  """
  hf_config = _read_config(path)
  return IMPORTERS[hf_config['model_type']](path, hf_config)


def module_from_hf(path: str) -> Any:
  """The flax module `from_hf(path)` would return, from config.json alone: no weight is read."""
  hf_config = _read_config(path)
  make_config, module_class = MODULES[hf_config['model_type']]
  return module_class(make_config(hf_config))


def _read_config(path: str) -> dict:
  """config.json of a local HF directory whose model_type lm_jax converts."""
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
  return hf_config


__all__ = ['IMPORTERS', 'MODULES', 'from_hf', 'module_from_hf', 'to_hf', 't5_config_from_hf']
