"""`python -m lm_jax.sweep --sweep=configs/sweeps/<name>.py`: runs an ablation sweep.

  --dry_run              list the points and their overrides; run nothing
  --parallel=N           up to N points at once, each in its own process (0: in this process)
  --emit=commands|slurm  print one command per run / write Slurm job arrays, run nothing
  --report_only          rewrite results.csv, results.md and the plots from what has run
  --point=P --seed=S     train that one run (what the commands above run)

Each run trains in `<root>/<sweep>/<point>/seed_<seed>/`; re-running the command skips finished
runs and resumes unfinished ones; a failed run is recorded and the others go on.
"""
import os
import sys

from absl import app, flags, logging

from lm_jax.sweep import emit, results, runner, spec

_SWEEP = flags.DEFINE_string('sweep', None, 'The sweep file, e.g. configs/sweeps/<name>.py.')
_ROOT = flags.DEFINE_string('root', 'runs', 'Runs go to <root>/<sweep name>/<point>/seed_<s>/.')
_DRY_RUN = flags.DEFINE_bool('dry_run', False, 'List the points and their overrides.')
_PARALLEL = flags.DEFINE_integer('parallel', 1, 'Runs at once, as subprocesses; 0: in this '
                                 'process (no isolation: one crash ends the sweep).')
_EMIT = flags.DEFINE_enum('emit', None, ['commands', 'slurm'],
                          'Print one command per run, or write Slurm job-array scripts.')
_REPORT_ONLY = flags.DEFINE_bool('report_only', False, 'Only rewrite the tables and plots.')
_POINT = flags.DEFINE_string('point', None, 'Train only this point (with --seed).')
_SEED = flags.DEFINE_integer('seed', None, 'The seed of --point.')
_LEVEL = flags.DEFINE_integer('level', 0, 'With --task_index: the dependency level (Slurm).')
_TASK_INDEX = flags.DEFINE_integer('task_index', None,
                                   'Train the run at this index of --level (a Slurm array task).')
_TABLES = flags.DEFINE_bool('tables', True, 'With --point or --task_index: rewrite the tables '
                            'after the run (the sweep runner does that itself).')
_MULTIHOST = flags.DEFINE_bool('multihost', False, 'One process per host of a multi-host point '
                               '(--point or --task_index): jax.distributed.initialize().')
flags.mark_flags_as_required(['sweep'])


def _dry_run(sweep: spec.Sweep, root: str) -> None:
  print(f'{sweep.name}: {len(sweep.points)} points x {len(sweep.seeds)} seeds '
        f'{list(sweep.seeds)} = {len(sweep.runs)} runs from {sweep.base}'
        + (f', common {sweep.common}' if sweep.common else ''))
  for point in sweep.points:
    run = sweep.run(point, sweep.seeds[0])
    recorded = [runner.status.read(sweep.workdir(root, sweep.run(point, s))) for s in sweep.seeds]
    states = [r['state'] if r else 'new' for r in recorded]
    base = '' if run.config_spec == sweep.base else f'[{run.config_spec}] '
    evaluate = '' if run.evaluate is None else f' then eval {run.evaluate}'
    print(f'  {point:24s} {base}{run.overrides or "(the base config)"}{evaluate}  '
          f'{", ".join(states)}')


def _single_run(sweep: spec.Sweep, root: str) -> int:
  if _TASK_INDEX.value is not None:
    group = emit.levels(sweep)[_LEVEL.value]
    run = group[_TASK_INDEX.value]
  else:
    if _SEED.value is None:
      raise app.UsageError('--point needs --seed (one of the sweep\'s SEEDS).')
    run = sweep.run(_POINT.value, _SEED.value)
  if _MULTIHOST.value:
    import jax
    jax.distributed.initialize()
  record = runner.train_run(sweep, root, run)
  print(f'{run.name}: {record["state"]}' + (f'\n{record["error"]}' if record.get('error') else ''))
  import jax
  if _TABLES.value and jax.process_index() == 0:
    results.write(sweep, root)  # the tables so far (a Slurm array's tasks each add theirs)
  return 0 if record['state'] == runner.FINISHED else 1


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)
  root = _ROOT.value
  try:
    sweep = spec.load_sweep(_SWEEP.value, root)
  except spec.SweepError as e:
    sys.exit(f'error: {e}')
  if _DRY_RUN.value:
    return _dry_run(sweep, root)
  if _EMIT.value == 'commands':
    print('\n'.join(emit.commands(sweep, root)))
    return
  directory = results.sweep_dir(sweep, root)
  if _EMIT.value == 'slurm':
    paths = emit.slurm_scripts(sweep, root, directory)
    print('Submit the levels in order (each starts after the one before it ended):\n'
          + '\n'.join(emit.submit_lines(paths)))
    return
  if _REPORT_ONLY.value:
    results.write(sweep, root)
    print(open(os.path.join(directory, 'results.md')).read())
    return
  if _POINT.value is not None or _TASK_INDEX.value is not None:
    sys.exit(_single_run(sweep, root))
  done = runner.run_sweep(sweep, root, _PARALLEL.value)
  print('\n' + open(os.path.join(directory, 'results.md')).read())
  failed = [name for name, record in done.items() if record['state'] != runner.FINISHED]
  print(f'Tables and plots: {directory}/ (tensorboard --logdir {directory})')
  if failed:
    sys.exit(f'{len(failed)} of {len(done)} runs did not finish: {", ".join(failed)} '
             '(their errors are above and in results.csv; re-run the command to retry them).')


if __name__ == '__main__':
  app.run(main)
