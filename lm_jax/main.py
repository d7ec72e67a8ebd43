"""Command line: `python -m lm_jax.main --config=configs/t5_small.py[:variant] [--config.a.b=v]`.

`--config.mode=eval` scores the workdir's latest (or best) checkpoint on `config.eval.split` and
writes `eval_<split>.json` and `predictions_<split>.jsonl` there.
`--config.mode=generate --prompt="text" [--prompt=...]` continues prompts with the latest
checkpoint of the workdir instead of training (decoding options under `config.generate`).
`--config.mode=merge` folds an adapter run's (config.peft) adapters into its base and writes the
whole model to `<workdir>/merged`, a run directory like any other.

Multi-host: start the same command on every host with `--multihost` (Cloud TPU, Slurm, Open MPI
find each other), or with `--coordinator_address=host0:port --num_processes=N --process_id=i`.
"""
import os
import sys

import jax
import tensorflow_datasets as tfds
from absl import app, flags, logging
from ml_collections import config_flags

from lm_jax import modes
from lm_jax.config import schema
from lm_jax.train import nonfinite
from lm_jax.train.run_dir import CheckpointError

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config file (get_config).',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Checkpoints, metrics and samples go here; default runs/<config>.')
_PROMPTS = flags.DEFINE_multi_string('prompt', [], 'Text to continue in --config.mode=generate.')
_MULTIHOST = flags.DEFINE_bool(
    'multihost', False, 'One process per host of a multi-host run: jax.distributed.initialize() '
    'finds the others on Cloud TPU, Slurm and Open MPI. Elsewhere give the three flags below.')
_COORDINATOR = flags.DEFINE_string('coordinator_address', None,
                                   'host:port of process 0 of a multi-host run.')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'Processes in a multi-host run.')
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'This process\'s index, 0 to n - 1.')
flags.mark_flags_as_required(['config'])


def default_workdir(config_flag_value: str) -> str:
  """`configs/t5_small.py:tiny` -> `runs/t5_small_tiny`."""
  path, _, variant = config_flag_value.partition(':')
  name = os.path.splitext(os.path.basename(path))[0]
  return os.path.join('runs', f'{name}_{variant}' if variant else name)


def initialize_distributed() -> None:
  """Joins a multi-host run (before any JAX computation) when the flags ask for one."""
  explicit = {'coordinator_address': _COORDINATOR.value, 'num_processes': _NUM_PROCESSES.value,
              'process_id': _PROCESS_ID.value}
  given = [name for name, value in explicit.items() if value is not None]
  if given and len(given) < len(explicit):
    missing = ', '.join(f'--{name}' for name in explicit if name not in given)
    raise app.UsageError(f'A multi-host run outside Cloud TPU, Slurm and Open MPI needs '
                         f'{missing} as well as --{" and --".join(given)}.')
  if not given and not _MULTIHOST.value:
    return
  # CPU processes exchange collectives through gloo (the default, none, cannot cross processes).
  if 'JAX_CPU_COLLECTIVES_IMPLEMENTATION' not in os.environ:
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(**explicit)


def _config_overrides(argv: list[str]) -> tuple[str | None, list[str]]:
  """(the --config file spec, the dotted keys of its --config.<key> overrides) in argv."""
  spec, keys = None, []
  for i, arg in enumerate(argv):
    name, has_value, value = arg.partition('=')
    if name == '--config':
      spec = value if has_value else (argv[i + 1] if i + 1 < len(argv) else None)
    elif name.startswith('--config.'):
      keys.append(name[len('--config.'):])
  return spec, keys


def _bad_flag_message(argv: list[str], error: Exception) -> str:
  """What was wrong with the command line, in one message: ml_collections reports an unknown
  --config.<key> as a bare AttributeError deep inside its parser."""
  spec, keys = _config_overrides(argv)
  if spec and keys:
    try:
      config = schema.load_config(spec)
    except Exception:  # the config file itself is the problem: the flag error says how
      config = None
    for key in keys if config is not None else ():
      message = schema.unknown_key_message(config, key)
      if message:
        return message
  message = f'{error}'.strip()
  quoted = len(message) > 1 and message[0] == message[-1] and message[0] in '"\''
  return message[1:-1] if quoted else message


def _parse_flags(argv: list[str]) -> list[str]:
  try:
    return flags.FLAGS(argv)
  except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
    sys.exit(f'error: {_bad_flag_message(argv, e)}\nSee --helpfull for the flags, and '
             'lm_jax/config/schema.py for every config key.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # Orbax and TFDS log every file they touch at INFO.
  tfds.disable_progress_bar()
  initialize_distributed()
  workdir = _WORKDIR.value or default_workdir(flags.FLAGS['config'].serialize().split('=', 1)[1])
  print(f'{jax.device_count()} {jax.devices()[0].platform} device(s) in {jax.process_count()} '
        f'process(es); workdir {workdir}')
  config = _CONFIG.value
  try:
    schema.validate_config(config)  # Names a bad key before any compute, in every mode.
  except ValueError as e:
    sys.exit(f'error: {e}')
  try:
    modes.MODES[config.mode](config, workdir, _PROMPTS.value)
  except (nonfinite.NonFiniteError, CheckpointError) as e:
    # Both messages say what happened and what to do; a traceback would bury them.
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
