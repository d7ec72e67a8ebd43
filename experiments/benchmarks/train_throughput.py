"""Times the jitted train step of a config's model, and transformers' PyTorch model of the same
shape (T5, GPT-2, BERT, or MarianMT for the original Transformer).

  python experiments/benchmarks/train_throughput.py --config=configs/t5_small.py \
      --config.per_device_batch_size=8 [--steps=5]
  python experiments/benchmarks/train_throughput.py --config=configs/gpt2_small.py \
      --config.per_device_batch_size=4 --config.data.targets_length=512

Random tokens without padding (every position costs compute). Prints a table; the last line is
one JSON object with tokens_per_s, step_s, params, model_flops_per_token, mfu and, when torch and
transformers are installed, the PyTorch numbers and the ratio.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from lm_jax import families, models, partitioning  # noqa: E402
from lm_jax.config import schema  # noqa: E402
from lm_jax.data import pipeline  # noqa: E402
from lm_jax.models import flops  # noqa: E402
from lm_jax.train import optimizers, train_step as steps  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config file.')
_STEPS = flags.DEFINE_integer('steps', 5, 'Timed steps after warm-up (median reported).')
_WARMUP = flags.DEFINE_integer('warmup', 2, 'Untimed steps; the first one compiles.')
_TORCH = flags.DEFINE_bool('torch', True,
                           'Also time transformers\' PyTorch model of the same shape when installed.')

# Dense matrix-unit peaks (FLOP/s) by device kind and compute dtype; float32 matmuls run as TF32
# on NVIDIA GPUs under JAX's default precision. Unknown devices (CPUs) report no MFU.
_PEAK_FLOPS = {
    ('NVIDIA H100 80GB HBM3', 'bfloat16'): 989e12, ('NVIDIA H100 80GB HBM3', 'float32'): 495e12,
    ('NVIDIA H200', 'bfloat16'): 989e12, ('NVIDIA H200', 'float32'): 495e12,
    ('NVIDIA A100-SXM4-80GB', 'bfloat16'): 312e12, ('NVIDIA A100-SXM4-80GB', 'float32'): 156e12,
    ('TPU v4', 'bfloat16'): 275e12, ('TPU v5 lite', 'bfloat16'): 197e12,
    ('TPU v5p', 'bfloat16'): 459e12,
}


def _random_batch(rng, shapes: dict, vocab: int) -> dict:
  """Every key of the objective's batch, with no padding: every position costs compute."""
  batch = {}
  for key, (shape, dtype) in shapes.items():
    if key.endswith('_tokens'):
      batch[key] = rng.integers(3, vocab, shape).astype(dtype)
    elif key.endswith('_positions'):
      batch[key] = np.broadcast_to(np.arange(shape[1], dtype=dtype), shape).copy()
    elif key.endswith('_segment_ids') or key.endswith('_loss_weights'):
      batch[key] = np.ones(shape, dtype)
    else:
      batch[key] = np.zeros(shape, dtype)
  if 'decoder_input_tokens' in batch:
    batch['decoder_input_tokens'] = np.pad(batch['decoder_target_tokens'][:, :-1], ((0, 0), (1, 0)))
  return batch


def _median_step_seconds(run_step, warmup, timed):
  for _ in range(warmup):
    run_step()
  times = []
  for _ in range(timed):
    start = time.perf_counter()
    run_step()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def time_jax(config, batch_np):
  model = models.build_model(config.model)
  mesh = partitioning.create_mesh()
  optimizer, schedule = optimizers.make_optimizer(config.optimizer, config.num_train_steps)
  shapes = {k: (v.shape, v.dtype) for k, v in batch_np.items()}
  # The same compiled init and train step as lm_jax.main, so the benchmark times what trains.
  jitted = steps.jit_steps(model, optimizer, schedule, config.loss, mesh, shapes)
  state = jitted.init(jax.random.key_data(jax.random.key(0)))
  step = jitted.train
  batch = partitioning.shard_batch(batch_np, partitioning.batch_sharding(mesh))
  holder = {'state': state}

  def run_step():
    holder['state'], metrics = step(holder['state'], batch, None)
    jax.block_until_ready(metrics['loss_sum'])

  seconds = _median_step_seconds(run_step, _WARMUP.value, _STEPS.value)
  params = sum(x.size for x in jax.tree.leaves(holder['state'].params))
  return seconds, params


def time_torch(config, batch_np):
  """transformers' model of the same shape, optimizer family and batch (None if unavailable)."""
  try:
    import torch
    import transformers
  except ImportError:
    return None
  m = config.model
  if m.name not in torch_reference.BUILDERS:
    return None
  torch.manual_seed(0)
  model, loss_fn = torch_reference.BUILDERS[m.name](transformers, m)
  device = 'cuda' if torch.cuda.is_available() else 'cpu'
  torch.manual_seed(0)
  model = model.to(device).train()
  o = config.optimizer
  if o.name == 'adafactor':
    optimizer = transformers.optimization.Adafactor(
        model.parameters(), lr=o.learning_rate, scale_parameter=True, relative_step=False,
        warmup_init=False, clip_threshold=o.adafactor_clipping_threshold,
        decay_rate=-o.adafactor_decay_rate)
  else:
    optimizer = torch.optim.AdamW(model.parameters(), lr=o.learning_rate, betas=(o.b1, o.b2),
                                  eps=o.eps, weight_decay=o.weight_decay)
  tensors = {k: torch.as_tensor(v, device=device, dtype=torch.long)
             for k, v in batch_np.items() if k.endswith('_tokens')}
  autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=m.dtype == 'bfloat16')

  def run_step():
    with autocast:
      loss = loss_fn(model, tensors)
    loss.backward()
    if o.grad_clip_norm > 0:
      torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if device == 'cuda':
      torch.cuda.synchronize()

  return _median_step_seconds(run_step, _WARMUP.value, _STEPS.value), torch.get_num_threads()


def main(argv):
  del argv
  config = _CONFIG.value
  schema.validate_config(config)
  d = config.data
  batch_size = config.per_device_batch_size * jax.device_count()
  shapes = pipeline.batch_shapes(d, batch_size)
  batch_np = _random_batch(np.random.default_rng(0), shapes, config.model.vocab_size)
  model = models.build_model(config.model)
  tokens = batch_size * flops.tokens_per_example(model.family, d.inputs_length, d.targets_length)
  flops_per_token = flops.train_flops_per_token(model.config, model.family, d.inputs_length,
                                                d.targets_length)
  device = jax.devices()[0]
  peak = _PEAK_FLOPS.get((device.device_kind, config.model.dtype))

  jax_s, params = time_jax(config, batch_np)
  stack_lengths = {'encoder': d.inputs_length, 'decoder': d.targets_length}
  lengths = ' + '.join(str(stack_lengths[s]) for s in families.of(model).stacks)
  result = {'model': config.model.name, 'device': f'{jax.device_count()}x {device.device_kind}',
            'dtype': config.model.dtype, 'batch': batch_size,
            'tokens_per_example': tokens // batch_size, 'params': params,
            'model_flops_per_token': flops_per_token, 'step_s': jax_s,
            'tokens_per_s': tokens / jax_s,
            'mfu': flops_per_token * tokens / jax_s / peak if peak else None}
  rows = [('lm_jax (JAX)', jax_s)]
  torch_result = time_torch(config, batch_np) if _TORCH.value else None
  if torch_result:
    torch_s, threads = torch_result
    result.update(torch_step_s=torch_s, torch_tokens_per_s=tokens / torch_s,
                  torch_threads=threads, speedup_vs_torch=torch_s / jax_s)
    rows.append(('transformers (PyTorch)', torch_s))

  print(f'\n{config.model.name} on {result["device"]}, {config.model.dtype}, batch {batch_size} x '
        f'({lengths}) tokens, {params / 1e6:.1f}M params, '
        f'{flops_per_token / 1e6:.1f} MFLOP/token (training)')
  print(f'{"implementation":<24}{"step s":>10}{"tokens/s":>12}{"TFLOP/s":>10}')
  for name, seconds in rows:
    print(f'{name:<24}{seconds:>10.3f}{tokens / seconds:>12.0f}'
          f'{flops_per_token * tokens / seconds / 1e12:>10.3f}')
  if torch_result:
    print(f'speed-up of lm_jax over PyTorch: {result["speedup_vs_torch"]:.2f}x')
  print(json.dumps(result))


if __name__ == '__main__':
  flags.mark_flags_as_required(['config'])
  app.run(main)
