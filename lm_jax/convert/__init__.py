"""Import and export of reference checkpoints: local Hugging Face directories (config.json plus
model.safetensors or pytorch_model.bin) to and from lm_jax modules and variables."""
import json
import os
from typing import Any, Callable, Mapping

import jax
import numpy as np

from lm_jax.convert import bert
from lm_jax.convert import gpt2, peft_adapters, t5
from lm_jax.convert.t5 import t5_config_from_hf, to_hf
from lm_jax.models.bert import Bert
from lm_jax.models.gpt import GPT
from lm_jax.models.t5 import T5
from lm_jax.peft import lora

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


def from_hf(path: str, adapter: str | None = None) -> tuple[Any, dict]:
  """Loads a local HF checkpoint directory as (flax module, {'params': float32 numpy arrays}).

  The architecture comes from config.json's `model_type`; see IMPORTERS for the supported ones.
  No download happens here: `path` must be a directory on disk (save a hub model with
  `save_pretrained(path)` on a machine with internet first). `adapter`: a peft LoRA adapter
  directory (`PeftModel.save_pretrained`) for this base, merged into the returned parameters,
  which then compute what `PeftModel.from_pretrained(base, adapter)` computes (its
  `modules_to_save` in place of the base's modules).
  """
  hf_config = _read_config(path)
  model, variables = IMPORTERS[hf_config['model_type']](path, hf_config)
  if adapter is not None:
    spec, adapters, head = peft_adapters.load_adapter(adapter, hf_config)
    params = peft_adapters.with_head(variables['params'], head)
    merged = lora.merge(spec, params, adapters)
    lora.check_finite(merged, f'{path} with the adapter {adapter}')
    variables = {'params': jax.tree.map(np.asarray, merged)}
  return model, variables


def to_peft(base_path: str, spec: Any, adapters: Mapping[str, Any], path: str,
            head: Mapping[str, Any] | None = None) -> None:
  """Writes lm_jax LoRA `adapters` (trained with `spec`) as a peft adapter directory for the HF
  checkpoint in `base_path`: `PeftModel.from_pretrained(base, path)` then computes what lm_jax's
  merged model computes (lm_jax/convert/peft_adapters.py states the fused-layer rule).

  `head`: parameters that replace the base's, keyed like the model's params (e.g. {'lm_head':
  {'kernel': ...}}), written as peft's `modules_to_save` (all parts of a fused tensor: GPT-2's
  query, key and value of a layer are one c_attn).
  """
  peft_adapters.save_adapter(spec, adapters, _read_config(base_path), path,
                             base_model_name_or_path=base_path, head=head)


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


__all__ = ['IMPORTERS', 'MODULES', 'from_hf', 'module_from_hf', 'to_hf', 'to_peft',
           't5_config_from_hf']
