"""The committed run directories under fixtures/format_<N>/: tiny T5 and GPT runs written by the
code of that format, which tests/train/run_dir/test_fixture_runs.py opens with today's code.

Write the runs of the current format (after bumping run_dir.FORMAT_VERSION, into a new
fixtures/format_<N>/, keeping the older ones; `FORMATS` says which runs each format wrote):
    python tests/train/run_dir/fixture_runs.py [<format>]
Each run is a few hundred kB: a 384-piece tokenizer, one train-state checkpoint (Adafactor's
factored state is small) and the best checkpoint's parameters. Beside each run,
`<name>.expected.json` holds what the writing code computed from it, for the tests to compare.
"""
import json
import os
import pathlib
import shutil
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures'
PROMPT = 'def read_config(path):\n    """Return the'

# Each run: a tiny model of the family on the embedded corpus, 20 steps, early stopping on the
# eval loss (so checkpoints_best exists).
_T5 = {'model.d_model': 32, 'model.num_heads': 2, 'model.head_dim': 16, 'model.d_ff': 64,
       'model.num_encoder_layers': 1, 'model.num_decoder_layers': 1, 'model.vocab_size': 512,
       'data.inputs_length': 32, 'data.targets_length': 8}
RUNS = {
    't5': ('t5_small.py:tiny', _T5),
    'gpt': ('gpt2_small.py:tiny', {'model.d_model': 32, 'model.num_heads': 2,
                                   'model.head_dim': 16, 'model.d_ff': 64, 'model.num_layers': 1,
                                   'model.vocab_size': 512, 'model.max_length': 64,
                                   'data.targets_length': 32}),
    # LoRA on the committed format-1 t5 run (BASES), continuing its pretraining.
    't5_lora': ('t5_small.py:tiny', {**_T5, 'peft.method': 'lora', 'peft.rank': 4}),
}
# The runs each format's code wrote (run_dir/layout.py), and the run an adapter run builds on.
FORMATS = {1: ('t5', 'gpt'), 2: ('t5_lora',), 3: ('t5', 't5_lora')}
BASES = {'t5_lora': 't5'}


def base_dir(name: str, version: int) -> pathlib.Path:
  """The committed run the adapter run `name` of format `version` names as init_from: the base
  written by the newest format up to `version` that wrote one."""
  base = BASES[name]
  written = max(v for v, names in FORMATS.items() if v <= version and base in names)
  return FIXTURES / f'format_{written}' / base


COMMON = {'data.tokenizer_vocab_size': 384, 'optimizer.name': 'adafactor',
          'optimizer.schedule': 'constant', 'optimizer.learning_rate': 0.01,
          'optimizer.warmup_steps': 0, 'per_device_batch_size': 4, 'num_train_steps': 20,
          'log_every_steps': 10, 'eval_every_steps': 10, 'checkpoint_every_steps': 10,
          'keep_checkpoints': 1, 'num_eval_batches': 1, 'num_samples': 0,
          'early_stopping.metric': 'loss', 'early_stopping.mode': 'min',
          'generate.max_new_tokens': 8}


def config_for(name: str, data_dir: str, version: int, **changes):
  """The config that wrote run `name` of format `version`, on `data_dir`, with `changes` on
  top."""
  from lm_jax.config.schema import load_config, override
  spec, run_changes = RUNS[name]
  config = load_config(str(ROOT / 'configs' / spec))
  config.data.data_dir = data_dir
  if name in BASES:
    config.init_from = str(base_dir(name, version))
  return override(config, {**COMMON, **run_changes, **changes})


def fixed_batch_loss(trainer, params) -> float:
  """The eval loss of `params` on a batch of fixed token ids (4 rows, whatever the config's batch
  size): it depends on the parameters and the model code alone, not on the machine's data."""
  import jax
  from lm_jax import partitioning
  from lm_jax.data import pipeline
  from lm_jax.train import train_step
  shapes = pipeline.batch_shapes(trainer.config.data, 4, family=trainer.family)
  rng = np.random.default_rng(0)
  batch = {}
  for key, (shape, dtype) in shapes.items():
    if key.endswith('_tokens'):
      batch[key] = rng.integers(3, 384, shape).astype(dtype)
    elif key.endswith('_positions'):
      batch[key] = np.broadcast_to(np.arange(shape[-1]), shape).astype(dtype)
    else:  # loss weights, segment ids: one segment, every token scored
      batch[key] = np.ones(shape, dtype)
  sums = trainer.eval_step(params, partitioning.shard_batch(batch, trainer.batch_sharding))
  return train_step.summarize(jax.device_get(sums))['loss']


def expected(name: str, version: int, workdir: str, data_dir: str) -> dict:
  """What the tests compare: the continuation of PROMPT, the fixed-batch loss of the latest and
  best parameters, and their steps."""
  from lm_jax import modes
  from lm_jax.train.trainer import Trainer
  config = config_for(name, data_dir, version)
  continuation = modes.generate_from_checkpoint(config, workdir, [PROMPT])[0]
  trainer = Trainer(config, workdir, training=False)
  latest, step = trainer.latest_params()
  best, best_step = trainer.best_params()
  return {'prompt': PROMPT, 'continuation': continuation, 'step': step, 'best_step': best_step,
          'fixed_batch_loss': fixed_batch_loss(trainer, latest),
          'best_fixed_batch_loss': fixed_batch_loss(trainer, best)}


def write(version: int) -> None:
  from lm_jax.train import loop
  format_dir = FIXTURES / f'format_{version}'
  format_dir.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory() as data_dir:
    for name in FORMATS[version]:
      workdir = format_dir / name
      shutil.rmtree(workdir, ignore_errors=True)
      loop.train_and_evaluate(config_for(name, data_dir, version), str(workdir))
      values = expected(name, version, str(workdir), data_dir)
      with open(format_dir / f'{name}.expected.json', 'w') as f:
        json.dump(values, f, indent=2)
        f.write('\n')
      # What eval and generate modes wrote while computing the expected values is not part of
      # the run as training left it.
      for leftover in workdir.glob('eval_*.json'):
        leftover.unlink()
      for leftover in workdir.glob('predictions_*.jsonl'):
        leftover.unlink()
      print(f'{workdir}: {values}')


if __name__ == '__main__':
  sys.path.insert(0, str(ROOT))
  os.environ.setdefault('JAX_PLATFORMS', 'cpu')
  from lm_jax.train.run_dir import FORMAT_VERSION
  write(int(sys.argv[1]) if len(sys.argv) > 1 else FORMAT_VERSION)
