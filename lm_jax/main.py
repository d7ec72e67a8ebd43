"""Command line: `python -m lm_jax.main --config=configs/t5_small.py[:variant] [--config.a.b=v]`.

`--config.mode=eval` scores the workdir's latest (or best) checkpoint on `config.eval.split` and
writes `eval_<split>.json` and `predictions_<split>.jsonl` there.
`--config.mode=generate --prompt="text" [--prompt=...]` continues prompts with the latest
checkpoint of the workdir instead of training (decoding options under `config.generate`).
"""
import os

import jax
import tensorflow_datasets as tfds
from absl import app, flags, logging
from ml_collections import config_flags

from lm_jax import config_schema
from lm_jax.train import modes

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config file (get_config).',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Checkpoints, metrics and samples go here; default runs/<config>.')
_PROMPTS = flags.DEFINE_multi_string('prompt', [], 'Text to continue in --config.mode=generate.')
flags.mark_flags_as_required(['config'])


def default_workdir(config_flag_value: str) -> str:
  """`configs/t5_small.py:tiny` -> `runs/t5_small_tiny`."""
  path, _, variant = config_flag_value.partition(':')
  name = os.path.splitext(os.path.basename(path))[0]
  return os.path.join('runs', f'{name}_{variant}' if variant else name)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # Orbax and TFDS log every file they touch at INFO.
  tfds.disable_progress_bar()
  workdir = _WORKDIR.value or default_workdir(flags.FLAGS['config'].serialize().split('=', 1)[1])
  print(f'{jax.device_count()} {jax.devices()[0].platform} device(s); workdir {workdir}')
  config = _CONFIG.value
  config_schema.validate_config(config)  # Names a bad key before any compute, in every mode.
  modes.MODES[config.mode](config, workdir, _PROMPTS.value)


if __name__ == '__main__':
  app.run(main)
