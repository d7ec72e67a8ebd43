"""Writes sweep files for the tests: tiny T5 runs on the session's data dir."""
import textwrap

TINY = {'per_device_batch_size': 2, 'log_every_steps': 2, 'eval_every_steps': 2,
        'checkpoint_every_steps': 2, 'num_eval_batches': 1, 'num_samples': 0}


def write_sweep(directory, body: str, name: str = 'demo', data_dir: str | None = None,
                base: str = 'configs/t5_small.py:tiny', seeds=(0,), **common) -> str:
  """A sweep file `<directory>/<name>.py` with BASE, SEEDS, COMMON (TINY, the data dir and
  `common`) and `body` (its points(add) and any other names)."""
  values = {**TINY, **common}
  if data_dir is not None:
    values['data.data_dir'] = data_dir
  path = directory / f'{name}.py'
  path.write_text(f'BASE = {base!r}\nSEEDS = {tuple(seeds)!r}\nCOMMON = {values!r}\n'
                  + textwrap.dedent(body))
  return str(path)
