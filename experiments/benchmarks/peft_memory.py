"""Full fine-tuning against LoRA, prefix tuning and prompt tuning at T5-small and GPT-2-small
shapes: what trains, what the optimizer holds, what the compiled train step needs, what a
checkpoint weighs, how long a step takes; then the decode throughput of the merged LoRA model
against the base ("no additional inference latency", Hu et al. 2021 §4).

  python experiments/benchmarks/peft_memory.py [--models=t5,gpt] [--batch=4] [--length=128]

Random parameters and tokens (the sizes and times do not depend on the values); LoRA r=8 on the
query and value projections (--targets); --virtual_tokens prefix vectors per attention layer and
virtual tokens of the prompt (the prompt starting from sampled vocabulary rows); AdamW for all.
Checkpoint bytes are one train-state checkpoint written by the run directory's own Checkpointer:
the arrays, and apart from them orbax's metadata, the integrity manifest and the (here empty)
data position, a fixed overhead.
Prints a table; the last line is one JSON object.
"""
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from lm_jax import families, generate, models  # noqa: E402
from lm_jax.config.schema import default_config, load_config, override  # noqa: E402
from lm_jax.data import pipeline  # noqa: E402
from lm_jax.train import optimizers, train_step as steps  # noqa: E402
from lm_jax.train.adapters import Adapters  # noqa: E402
from lm_jax.train.run_dir import RunDir  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CONFIGS = {'t5': 'configs/t5_small.py', 'gpt': 'configs/gpt2_small.py'}
_MODELS = flags.DEFINE_list('models', ['t5', 'gpt'], f'Of {sorted(_CONFIGS)}.')
_BATCH = flags.DEFINE_integer('batch', 4, 'Rows per train step.')
_LENGTH = flags.DEFINE_integer('length', 128, 'Tokens per row (each stack of a T5).')
_RANK = flags.DEFINE_integer('rank', 8, 'LoRA rank.')
_TARGETS = flags.DEFINE_list('targets', ['query', 'value'], 'LoRA target patterns.')
_STEPS = flags.DEFINE_integer('steps', 3, 'Timed train steps (median reported).')
_NEW_TOKENS = flags.DEFINE_integer('new_tokens', 32, 'Tokens decoded per row.')
_VIRTUAL = flags.DEFINE_integer('virtual_tokens', 20, 'P of prefix and prompt tuning.')
_METHODS = ('full', 'lora', 'prefix', 'prompt')


def _config(name):
  config = load_config(os.path.join(_ROOT, _CONFIGS[name]))
  return override(config, {'per_device_batch_size': _BATCH.value,
                           'data.inputs_length': _LENGTH.value,
                           'data.targets_length': _LENGTH.value,
                           'optimizer.name': 'adamw', 'optimizer.schedule': 'constant',
                           'optimizer.warmup_steps': 0, 'model.dropout_rate': 0.0})


def _batch(model, config):
  shapes = pipeline.batch_shapes(config.data, _BATCH.value, family=model.family)
  rng = np.random.default_rng(0)
  batch = {}
  for key, (shape, dtype) in shapes.items():
    if key.endswith('_tokens'):
      batch[key] = rng.integers(3, config.model.vocab_size, shape).astype(dtype)
    elif key.endswith('_positions'):
      batch[key] = np.broadcast_to(np.arange(shape[1], dtype=dtype), shape).copy()
    else:  # segment ids and loss weights: one segment, every token scored
      batch[key] = np.ones(shape, dtype)
  return batch, {k: (v.shape, v.dtype) for k, v in batch.items()}


def _bytes(tree) -> int:
  return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


def _checkpoint_bytes(state) -> tuple[int, int]:
  """(array bytes, everything else) of one train-state checkpoint."""
  with tempfile.TemporaryDirectory() as workdir:
    saver = RunDir(workdir).checkpointer(every_steps=1, keep=1)
    saver.maybe_save(1, state, {}, force=True)
    saver.wait()
    saver.close()
    arrays = other = 0
    for directory, _, files in os.walk(workdir):
      for name in files:
        size = os.path.getsize(os.path.join(directory, name))
        parts = os.path.relpath(directory, workdir).split(os.sep)
        # ocdbt's data files (state/.../d/) hold the arrays; the rest is metadata, the integrity
        # manifest and the JSON items.
        if parts[-1] == 'd' and 'state' in parts:
          arrays += size
        else:
          other += size
  return arrays, other


def _median_seconds(run, timed: int) -> float:
  jax.block_until_ready(run())  # compiles
  times = []
  for _ in range(timed):
    start = time.perf_counter()
    jax.block_until_ready(run())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _measure(model, config, optimizer, schedule, batch, shapes, params, adapters=None):
  state = jax.jit(lambda rng: steps.init_train_state(model, optimizer, rng, shapes, adapters))(
      jax.random.key_data(jax.random.key(0)))
  base = None if adapters is None else adapters.frozen_base(params)
  if adapters is not None:
    state = state.replace(params=adapters.start_from_base(state.params, base))
  step = jax.jit(steps.make_train_step(model, optimizer, schedule, config.loss,
                                       adapters=adapters), donate_argnums=0)
  memory = step.lower(state, batch, base).compile().memory_analysis()
  trainable = sum(x.size for x in jax.tree.leaves(state.params))
  optimizer_bytes = _bytes(state.opt_state)
  holder = {'state': state}

  def run():
    holder['state'], metrics = step(holder['state'], batch, base)
    return metrics['loss_sum']

  seconds = _median_seconds(run, _STEPS.value)
  # After training steps: Adam's moments are no longer zeros that compress to nothing.
  checkpoint = _checkpoint_bytes(holder['state'])
  return {'trainable': trainable, 'optimizer_bytes': optimizer_bytes,
          'step_temp_bytes': getattr(memory, 'temp_size_in_bytes', None),
          'step_argument_bytes': getattr(memory, 'argument_size_in_bytes', None),
          'checkpoint_array_bytes': checkpoint[0], 'checkpoint_other_bytes': checkpoint[1],
          'step_s': seconds}, holder['state']


def _decode_seconds(model, params, batch):
  prompts = batch['encoder_input_tokens' if 'encoder_input_tokens' in batch
                  else 'decoder_input_tokens'][:, :_LENGTH.value // 2]
  return _median_seconds(
      lambda: generate(model, {'params': params}, prompts, max_new_tokens=_NEW_TOKENS.value,
                       eos_id=-1), 3)


def benchmark(name: str) -> dict:
  config = _config(name)
  model = models.build_model(config.model)
  batch, shapes = _batch(model, config)
  params = jax.jit(lambda rng: steps.init_params(model, rng, shapes))(jax.random.key(0))
  total = sum(x.size for x in jax.tree.leaves(params))
  optimizer, schedule = optimizers.make_optimizer(config.optimizer, 100)
  full, _ = _measure(model, config, optimizer, schedule, batch, shapes, params)
  adapter_optimizer, _ = optimizers.make_optimizer(config.optimizer, 100, adapters=True)
  result = {'model': name, 'params': total, 'family': families.of(model).name, 'full': full}
  for method in _METHODS[1:]:
    peft = override(default_config(), {
        'peft.method': method, 'peft.rank': _RANK.value, 'peft.targets': tuple(_TARGETS.value),
        'peft.num_virtual_tokens': _VIRTUAL.value}).peft
    adapters = Adapters.from_config(peft, model, params, new_paths=(),
                                    tokenizer=_Vocabulary(config.model.vocab_size))
    result[method], trained = _measure(model, config, adapter_optimizer, schedule, batch, shapes,
                                       params, adapters)
    if method == 'lora':
      merged = jax.jit(adapters.merged)(adapters.frozen_base(params), trained.params)
  base_s = _decode_seconds(model, params, batch)
  merged_s = _decode_seconds(model, merged, batch)
  return {**result, 'decode_base_s': base_s, 'decode_merged_s': merged_s,
          'decode_merged_over_base': merged_s / base_s}


class _Vocabulary:
  """What prompt tuning's vocabulary init asks of a tokenizer: the ids to sample from."""

  def __init__(self, vocab_size):
    self.vocab_size, self.pad_id, self.eos_id, self.unk_id = vocab_size, 0, 1, 2


def _mb(n):
  return '-' if n is None else f'{n / 2**20:.2f}'


def main(argv):
  del argv
  results = [benchmark(name) for name in _MODELS.value]
  device = jax.devices()[0]
  print(f'\n{jax.device_count()}x {device.device_kind}, batch {_BATCH.value} x {_LENGTH.value} '
        f'tokens, AdamW; LoRA r={_RANK.value} on {",".join(_TARGETS.value)}; prefix and prompt '
        f'P={_VIRTUAL.value}')
  print('| model | method | trainable (%) | optimizer MiB | step temp MiB | step args MiB '
        '| checkpoint MiB (arrays + other) | step s |')
  print('|---|---|---|---|---|---|---|---|')
  for r in results:
    for method in _METHODS:
      m = r[method]
      print(f"| {r['model']} ({r['params'] / 1e6:.1f}M) | {method} | {m['trainable']:,} "
            f"({100 * m['trainable'] / r['params']:.3g}%) | {_mb(m['optimizer_bytes'])} | "
            f"{_mb(m['step_temp_bytes'])} | {_mb(m['step_argument_bytes'])} | "
            f"{_mb(m['checkpoint_array_bytes'])} + {_mb(m['checkpoint_other_bytes'])} | "
            f"{m['step_s']:.3f} |")
  print(f'\nDecoding {_NEW_TOKENS.value} tokens per row, greedy, KV cache:')
  for r in results:
    print(f"{r['model']}: base {r['decode_base_s']:.3f} s, merged LoRA "
          f"{r['decode_merged_s']:.3f} s: {r['decode_merged_over_base']:.3f}x the base's time")
  print(json.dumps({'device': device.device_kind, 'batch': _BATCH.value,
                    'length': _LENGTH.value, 'results': results}))


if __name__ == '__main__':
  app.run(main)
