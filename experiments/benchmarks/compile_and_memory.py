"""Compile time and the compiled train step's memory for each remat policy
(config.model.remat_policy, lm_jax/models/remat.py).

  python experiments/benchmarks/compile_and_memory.py                       # T5-small, GPT-2 small
  python experiments/benchmarks/compile_and_memory.py --configs=configs/t5_small.py \
      --policies=none,full --batch=8
  XLA_FLAGS=--xla_force_host_platform_device_count=8 python \
      experiments/benchmarks/compile_and_memory.py --configs=configs/gpt2_large.py \
      --policies=full --batch=8 --mesh=1,4,2        # per-device memory of a sharded model

For each config and policy: the train step of lm_jax.main (jit_steps, AdamW as the configs say)
is lowered and compiled for the devices at the config's lengths and `--batch` rows, and
`compiled.memory_analysis()` gives its temporary bytes (activations kept for the backward pass
and scratch) and its argument bytes (parameters, optimizer state, batch), per device of the mesh
`--mesh` (data,fsdp,tensor; default all data). Nothing runs. Prints a
markdown table; the last line is one JSON list of the rows.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from lm_jax import models, partitioning  # noqa: E402
from lm_jax.config.schema import load_config  # noqa: E402
from lm_jax.data import pipeline  # noqa: E402
from lm_jax.models.remat import REMAT_POLICIES  # noqa: E402
from lm_jax.train import optimizers, train_step as steps  # noqa: E402

_CONFIGS = flags.DEFINE_list('configs', ['configs/t5_small.py', 'configs/gpt2_small.py'],
                             'Config files (their default variant: the full-size model).')
_POLICIES = flags.DEFINE_list('policies', list(REMAT_POLICIES), 'remat policies to compile.')
_BATCH = flags.DEFINE_integer('batch', 8, 'Rows per step.')
_MESH = flags.DEFINE_list('mesh', ['-1', '1', '1'], 'data,fsdp,tensor sizes (-1: the rest).')

MIB = 2**20


def measure(config_path: str, policy: str, batch: int, mesh_sizes=(-1, 1, 1)) -> dict:
  config = load_config(config_path)
  with config.unlocked():
    config.model.remat_policy = policy
  model = models.build_model(config.model)
  optimizer, schedule = optimizers.make_optimizer(config.optimizer, config.num_train_steps)
  shapes = pipeline.batch_shapes(config.data, batch, family=config.model.name)
  mesh = partitioning.create_mesh(dict(zip(partitioning.MESH_AXES, mesh_sizes)))
  partitioning.check_heads(model.config, mesh)
  jitted = steps.jit_steps(model, optimizer, schedule, config.loss, mesh, shapes)
  state = jax.eval_shape(jitted.init, jax.random.key_data(jax.random.key(0)))
  batch_shapes = {k: jax.ShapeDtypeStruct(shape, dtype) for k, (shape, dtype) in shapes.items()}
  start = time.perf_counter()
  compiled = jitted.train.lower(state, batch_shapes, None).compile()
  seconds = time.perf_counter() - start
  memory = compiled.memory_analysis()
  return {'config': os.path.basename(config_path), 'model': config.model.name, 'policy': policy,
          'batch': batch, 'mesh': 'x'.join(str(mesh.shape[a]) for a in partitioning.MESH_AXES), 'compile_s': round(seconds, 2),
          'temp_mib': round(memory.temp_size_in_bytes / MIB, 1),
          'args_mib': round(memory.argument_size_in_bytes / MIB, 1)}


def main(argv):
  del argv
  rows = []
  print(f'{jax.devices()[0].device_kind}, jax {jax.__version__}')
  print('| config | mesh | policy | batch | compile s | step temp MiB | step args MiB |')
  print('|---|---|---|---|---|---|---|')
  mesh_sizes = [int(size) for size in _MESH.value]
  for config_path in _CONFIGS.value:
    for policy in _POLICIES.value:
      row = measure(config_path, policy, _BATCH.value, mesh_sizes)
      rows.append(row)
      print(f"| {row['config']} | {row['mesh']} | {row['policy']} | {row['batch']} | "
            f"{row['compile_s']} | {row['temp_mib']} | {row['args_mib']} |", flush=True)
  print(json.dumps(rows))


if __name__ == '__main__':
  app.run(main)
