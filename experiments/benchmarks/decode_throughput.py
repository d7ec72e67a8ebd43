"""Times `lm_jax.generate` with the KV cache against the uncached reference (a full forward pass
over the whole prefix at every step), on a config's model with random parameters.

  python experiments/benchmarks/decode_throughput.py --config=configs/t5_small.py \
      --batch=8 --prompt_length=64 --max_new_tokens=64 [--strategy=greedy|sample|beam]
  python experiments/benchmarks/decode_throughput.py --config=configs/gpt2_small.py \
      --batch=8 --prompt_length=64 --max_new_tokens=64

Random prompt tokens (encoder inputs for an encoder-decoder model), and eos_id=-1 so that every
call generates all max_new_tokens. Compilation is excluded: one untimed warm-up call per
implementation, then the median of --runs calls. Prints a table; the last line is one JSON
object.
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

from lm_jax import families, generate, models  # noqa: E402

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


def main(argv):
  del argv
  config = _CONFIG.value
  model = models.build_model(config.model)
  batch, new = _BATCH.value, _MAX_NEW_TOKENS.value
  rng = np.random.default_rng(0)
  # Ids from 2 up: no pad (0) in encoder inputs, no T5 EOS (1) in prompts.
  prompts = jnp.asarray(rng.integers(2, config.model.vocab_size, (batch, _PROMPT_LENGTH.value)),
                        jnp.int32)
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
  if len(rows) > 1:
    uncached_s = rows[1][2]
    result.update(uncached_s=uncached_s, uncached_tokens_per_s=tokens / uncached_s,
                  uncached_first_call_s=rows[1][1], speedup=uncached_s / cached_s)

  beams = f', {_NUM_BEAMS.value} beams' if _STRATEGY.value == 'beam' else ''
  print(f'\n{result["device"]}, {config.model.name} ({params / 1e6:.1f}M params, '
        f'{result["dtype"]}), {_STRATEGY.value}{beams}, batch {batch}, prompt '
        f'{_PROMPT_LENGTH.value} tokens, {new} new tokens per row')
  print(f'{"implementation":<16}{"s per call":>12}{"tokens/s":>12}{"speed-up":>10}')
  for name, _, seconds in rows:
    print(f'{name:<16}{seconds:>12.3f}{tokens / seconds:>12.1f}{rows[-1][2] / seconds:>9.2f}x')
  print(json.dumps(result))


if __name__ == '__main__':
  flags.mark_flags_as_required(['config'])
  app.run(main)
