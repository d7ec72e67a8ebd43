"""Times `lm_jax.generate` with the KV cache against the uncached reference (a full forward pass
over the whole prefix at every step), and with --hf against transformers' `generate` (PyTorch)
on the same weights, on a config's model with random parameters.

  python experiments/benchmarks/decode_throughput.py --config=configs/t5_small.py \
      --batch=8 --prompt_length=128 --max_new_tokens=64 --hf --nouncached
  python experiments/benchmarks/decode_throughput.py --config=configs/gpt2_small.py \
      --batch=8 --prompt_length=64 --max_new_tokens=64 [--strategy=greedy|sample|beam]

Random prompt tokens (encoder inputs for an encoder-decoder model), and no EOS (eos_id=-1 here,
eos_token_id=None for transformers) so that every call generates all max_new_tokens. With --hf
the weights are transformers' own random initialisation, saved and imported into lm_jax
(lm_jax.convert.from_hf), and the table says how many rows both decode to the same tokens.
Compilation is excluded: one untimed warm-up call per implementation, then the median of --runs
calls. Prints a table; the last line is one JSON object.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from lm_jax import convert, families, generate, models  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config file (its model).')
_BATCH = flags.DEFINE_integer('batch', 8, 'Rows decoded together.')
_PROMPT_LENGTH = flags.DEFINE_integer(
    'prompt_length', 64, 'Prompt tokens per row (encoder input tokens for encoder-decoders).')
_MAX_NEW_TOKENS = flags.DEFINE_integer('max_new_tokens', 64, 'Tokens generated per row.')
_STRATEGY = flags.DEFINE_enum('strategy', 'greedy', ['greedy', 'sample', 'beam'],
                              'Decoding strategy.')
_NUM_BEAMS = flags.DEFINE_integer('num_beams', 4, 'Beams per row for --strategy=beam.')
_RUNS = flags.DEFINE_integer('runs', 3, 'Timed calls per implementation (median reported).')
_UNCACHED = flags.DEFINE_bool('uncached', True, 'Also time the uncached reference.')
_HF = flags.DEFINE_bool('hf', False, "Also time transformers' generate (PyTorch) on the same "
                        'weights, which are then transformers\' random initialisation.')


def _init_variables(model, prompts):
  """Random float32 parameters for `model` from its config's initialisers."""
  # The prompts feed the first input; a second (an encoder-decoder's decoder) gets one start id.
  extra = len(families.of(model).inputs) - 1
  args = (prompts[:1], *[jnp.zeros((1, 1), jnp.int32)] * extra)
  return jax.jit(model.init)(jax.random.key(0), *args)


def _time_calls(run, runs: int):
  """(seconds of the first call, compilation included; median seconds of the next `runs`)."""
  start = time.perf_counter()
  jax.block_until_ready(run())
  first = time.perf_counter() - start
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    jax.block_until_ready(run())
    times.append(time.perf_counter() - start)
  return first, statistics.median(times)


def _hf_model_and_variables(model_config):
  """transformers' model of the config's shape with its own random init, and the same weights
  imported into lm_jax: (hf_model, lm_jax model, variables)."""
  import tempfile
  import transformers
  if model_config.name not in ('t5', 'gpt'):
    raise ValueError(f'--hf compares the T5 and GPT families (lm_jax.convert imports both); '
                     f'{model_config.name!r} has no HF import.')
  hf_model, _ = torch_reference.BUILDERS[model_config.name](transformers, model_config)
  hf_model.eval()
  with tempfile.TemporaryDirectory() as directory:
    hf_model.save_pretrained(directory)
    model, variables = convert.from_hf(directory)
  return hf_model, model, variables


def _hf_generate(hf_model, prompts, encoder_prompt: bool, new: int):
  """transformers' generate with the benchmark's options; returns the new tokens (B, new).
  encoder_prompt: the prompts are encoder inputs (an encoder-decoder), not a decoder prefix."""
  import torch
  strategy = _STRATEGY.value
  ids = torch.from_numpy(np.asarray(prompts, np.int64))
  start = {'decoder_start_token_id': 0} if encoder_prompt else {}
  with torch.inference_mode():
    out = hf_model.generate(
        input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
        min_new_tokens=0, do_sample=strategy == 'sample',
        num_beams=_NUM_BEAMS.value if strategy == 'beam' else 1, length_penalty=1.0,
        eos_token_id=None, pad_token_id=0, use_cache=True, **start)
  # An encoder-decoder's output starts with the decoder start id, a decoder-only model's with
  # the prompt.
  return out[:, 1:] if encoder_prompt else out[:, ids.shape[1]:]


def main(argv):
  del argv
  config = _CONFIG.value
  batch, new = _BATCH.value, _MAX_NEW_TOKENS.value
  rng = np.random.default_rng(0)
  # Ids from 2 up: no pad (0) in encoder inputs, no T5 EOS (1) in prompts.
  prompts = jnp.asarray(rng.integers(2, config.model.vocab_size, (batch, _PROMPT_LENGTH.value)),
                        jnp.int32)
  if _HF.value:
    hf_model, model, variables = _hf_model_and_variables(config.model)
  else:
    model = models.build_model(config.model)
    variables = _init_variables(model, prompts)
  params = sum(x.size for x in jax.tree.leaves(variables))
  options = dict(max_new_tokens=new, strategy=_STRATEGY.value, num_beams=_NUM_BEAMS.value,
                 rng=jax.random.key(1), eos_id=-1)

  implementations = [('KV cache', True)] + ([('no cache', False)] if _UNCACHED.value else [])
  rows = []
  for name, use_cache in implementations:
    first, seconds = _time_calls(
        lambda: generate(model, variables, prompts, use_cache=use_cache, **options), _RUNS.value)
    rows.append((name, first, seconds))
  same_rows = None
  if _HF.value:
    encoder_prompt = families.of(model).prompt == families.ENCODER_PROMPT
    call = lambda: _hf_generate(hf_model, prompts, encoder_prompt, new)  # noqa: E731
    first, seconds = _time_calls(call, _RUNS.value)
    rows.append(('transformers', first, seconds))
    ours = np.asarray(generate(model, variables, prompts, **options))
    same_rows = int((call().numpy() == ours).all(axis=1).sum())

  tokens = batch * new  # generated tokens per call (beam search returns one sequence per row)
  cached_s = rows[0][2]
  device = jax.devices()[0]
  result = {'device': f'{jax.device_count()}x {device.device_kind}', 'model': config.model.name,
            'family': model.family, 'dtype': config.model.get('dtype', 'float32'),
            'params': params, 'batch': batch, 'prompt_length': _PROMPT_LENGTH.value,
            'max_new_tokens': new, 'strategy': _STRATEGY.value,
            'num_beams': _NUM_BEAMS.value if _STRATEGY.value == 'beam' else None,
            'cached_s': cached_s, 'cached_tokens_per_s': tokens / cached_s,
            'cached_first_call_s': rows[0][1]}
  timed = {name: seconds for name, _, seconds in rows}
  if 'no cache' in timed:
    uncached_s = timed['no cache']
    result.update(uncached_s=uncached_s, uncached_tokens_per_s=tokens / uncached_s,
                  uncached_first_call_s=rows[1][1], speedup=uncached_s / cached_s)
  if 'transformers' in timed:
    hf_s = timed['transformers']
    result.update(hf_s=hf_s, hf_tokens_per_s=tokens / hf_s, vs_hf=hf_s / cached_s,
                  same_tokens_rows=same_rows, torch_threads=_torch_threads())

  beams = f', {_NUM_BEAMS.value} beams' if _STRATEGY.value == 'beam' else ''
  print(f'\n{result["device"]}, {config.model.name} ({params / 1e6:.1f}M params, '
        f'{result["dtype"]}), {_STRATEGY.value}{beams}, batch {batch}, prompt '
        f'{_PROMPT_LENGTH.value} tokens, {new} new tokens per row')
  slowest = max(seconds for _, _, seconds in rows)
  print(f'{"implementation":<16}{"s per call":>12}{"tokens/s":>12}{"vs slowest":>12}')
  for name, _, seconds in rows:
    print(f'{name:<16}{seconds:>12.3f}{tokens / seconds:>12.1f}{slowest / seconds:>11.2f}x')
  if same_rows is not None:
    print(f'lm_jax (KV cache) against transformers: {result["vs_hf"]:.2f}x the tokens/s; '
          f'{same_rows} of {batch} rows decode to the same tokens')
  print(json.dumps(result))


def _torch_threads() -> int:
  import torch
  return torch.get_num_threads()


if __name__ == '__main__':
  flags.mark_flags_as_required(['config'])
  app.run(main)
