"""Runs a sweep's points: each in its own workdir, finished ones skipped, unfinished ones resumed,
failures recorded without stopping the others; the tables are rewritten after every point."""
import os
import shlex
import subprocess
import sys
import time
import traceback

from lm_jax.sweep import results, status
from lm_jax.sweep.spec import Run, Sweep

FINISHED, FAILED, RUNNING, STALE = 'finished', 'failed', 'running', 'stale'


def run_command(sweep: Sweep, root: str, run: Run, extra: tuple = ()) -> list[str]:
  """The command that trains `run` alone, with the runner's skip and resume rules."""
  return [sys.executable, '-m', 'lm_jax.sweep', f'--sweep={sweep.path}', f'--root={root}',
          f'--point={run.point}', f'--seed={run.seed}', *extra]


def stale_message(sweep: Sweep, root: str, run: Run, recorded: dict) -> str | None:
  """Why `run`'s workdir holds another run (the point's values changed since), or None."""
  if recorded is None or recorded.get('identity') == sweep.identity(run):
    return None
  return (f'{sweep.workdir(root, run)} holds a run of point {run.point!r} with '
          f'{recorded.get("identity")}, but the sweep file now gives it {sweep.identity(run)}. '
          'Rename the point to run the new values, or delete that directory to replace the run.')


def _dependency_problem(sweep: Sweep, root: str, run: Run) -> str | None:
  if run.depends_on is None:
    return None
  source = sweep.run(run.depends_on, run.seed)
  recorded = status.read(sweep.workdir(root, source))
  if recorded is None or recorded['state'] != FINISHED:
    return (f'point {run.point!r} starts from point {run.depends_on!r} (init_from), whose run '
            f'{source.name} has not finished; run that point first.')
  return None


def train_run(sweep: Sweep, root: str, run: Run) -> dict:
  """Trains `run` in this process unless it finished; returns its status record. Errors are
  recorded (with their last lines) and returned, not raised."""
  import jax  # here, so that reading sweep files and tables does not start JAX
  from lm_jax import modes
  from lm_jax.train import loop

  workdir = sweep.workdir(root, run)
  recorded = status.read(workdir)
  stale = stale_message(sweep, root, run, recorded)
  if stale:
    return {'state': STALE, 'error': stale}
  if recorded is not None and recorded['state'] == FINISHED:
    return recorded
  earlier = recorded['seconds'] if recorded else 0.0
  writer = jax.process_index() == 0  # a multi-host point shares one workdir
  problem = _dependency_problem(sweep, root, run)
  if problem:
    record = {'state': FAILED, 'error': problem}
  else:
    if writer:
      status.write(workdir, RUNNING, sweep.identity(run), earlier)
    start = time.time()
    try:
      loop.train_and_evaluate(sweep.config(run, root), workdir)
      if run.evaluate is not None:  # a kill before it ends re-runs only this (training is done)
        modes.evaluate_checkpoint(sweep.eval_config(run, root), workdir, [])
      record = {'state': FINISHED}
    except Exception as e:  # recorded and reported; the other points go on
      record = {'state': FAILED, 'error': status.tail(''.join(
          traceback.format_exception(type(e), e, e.__traceback__)))}
    earlier += time.time() - start
  if writer:
    status.write(workdir, record.pop('state'), sweep.identity(run), earlier, **record)
    return status.read(workdir)
  return record


def _gpu_slots(parallel: int) -> list[dict]:
  """Per-slot environments: with CUDA_VISIBLE_DEVICES listing a multiple of `parallel` GPUs,
  each subprocess gets its own share of them; otherwise every subprocess sees everything."""
  visible = [d for d in os.environ.get('CUDA_VISIBLE_DEVICES', '').split(',') if d]
  if parallel < 2 or not visible or len(visible) % parallel:
    return [{} for _ in range(max(parallel, 1))]
  share = len(visible) // parallel
  return [{'CUDA_VISIBLE_DEVICES': ','.join(visible[i * share:(i + 1) * share])}
          for i in range(parallel)]


class _Subprocess:
  """One run training in a child process, its output appended to `<workdir>/sweep.log`."""

  def __init__(self, sweep: Sweep, root: str, run: Run, slot: int, env: dict):
    self.run, self.slot = run, slot
    self.workdir = sweep.workdir(root, run)
    os.makedirs(self.workdir, exist_ok=True)
    self._log = open(status.log_path(self.workdir), 'a')
    self._log.write(f'\n=== {time.strftime("%Y-%m-%d %H:%M:%S")} '
                    f'{shlex.join(run_command(sweep, root, run))}\n')
    self._log.flush()
    # --notables: this process rewrites the tables itself, once per finished run.
    self._process = subprocess.Popen(run_command(sweep, root, run, ('--notables',)),
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT, env={**os.environ, **env})

  def poll(self) -> int | None:
    code = self._process.poll()
    if code is not None:
      self._log.close()
    return code


def _finish_subprocess(sweep: Sweep, root: str, job: _Subprocess, code: int) -> dict:
  """The child's own record; a child that died without writing one (killed, out of memory) is
  recorded as failed with the last lines of its log."""
  recorded = status.read(job.workdir) or {}
  if code == 0 or recorded.get('state') in (FINISHED, FAILED):
    return recorded or {'state': FAILED, 'error': status.log_tail(job.workdir)}
  how = f'was killed by signal {-code}' if code < 0 else f'exited with status {code}'
  error = f'the training process {how}; its log ends:\n{status.log_tail(job.workdir)}'
  status.write(job.workdir, FAILED, sweep.identity(job.run), recorded.get('seconds', 0.0),
               error=error)
  return status.read(job.workdir)


def _ready(sweep: Sweep, root: str, run: Run, done: dict) -> bool | None:
  """True when `run` can start, False while its dependency is pending, None when it never can."""
  if run.depends_on is None:
    return True
  source = sweep.run(run.depends_on, run.seed).name
  if source not in done:
    return False
  return True if done[source]['state'] == FINISHED else None


def run_sweep(sweep: Sweep, root: str, parallel: int = 1, report=print) -> dict:
  """Trains every run not finished yet: `parallel` = 0 in this process, N >= 1 as up to N
  subprocesses at a time. Returns {run name: status record}; results.csv, results.md and the
  plots in `<root>/<sweep>/` are rewritten after every run."""
  done, total = {}, len(sweep.runs)
  pending = list(sweep.runs)
  for run in sweep.runs:  # finished (or stale) runs cost nothing: settle them first
    recorded = status.read(sweep.workdir(root, run))
    stale = stale_message(sweep, root, run, recorded)
    if stale or (recorded and recorded['state'] == FINISHED):
      done[run.name] = {'state': STALE, 'error': stale} if stale else recorded
      pending.remove(run)
      report(f'[{len(done)}/{total}] {run.name}: {"STALE" if stale else "finished before"}')

  def settle(run, record):
    done[run.name] = record
    results.write(sweep, root, done)
    line = (f'[{len(done)}/{total}] {run.name}: {record["state"]} after '
            f'{record.get("seconds", 0):.0f} s')
    report(line + (f'\n{_indent(record["error"])}' if record.get('error') else ''))

  active, slots = [], _gpu_slots(parallel)
  free = list(range(len(slots)))
  while pending or active:
    for run in list(pending):
      ready = _ready(sweep, root, run, done)
      if ready is None:
        pending.remove(run)
        settle(run, {'state': FAILED, 'error': f'not run: point {run.depends_on!r}, which it '
                                               'starts from (init_from), did not finish.'})
      elif ready and parallel == 0:
        pending.remove(run)
        report(f'{run.name}: training in this process')
        settle(run, train_run(sweep, root, run))
      elif ready and free:
        pending.remove(run)
        slot = free.pop(0)
        active.append(_Subprocess(sweep, root, run, slot, slots[slot]))
        report(f'{run.name}: training (log: {status.log_path(active[-1].workdir)})')
    for job in list(active):
      code = job.poll()
      if code is not None:
        active.remove(job)
        free.append(job.slot)
        settle(job.run, _finish_subprocess(sweep, root, job, code))
    if active:
      time.sleep(1.0)
  results.write(sweep, root, done)
  return done


def _indent(text: str) -> str:
  return '\n'.join('    ' + line for line in text.splitlines())
