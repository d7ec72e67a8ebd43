"""`train_and_evaluate`: the one training loop every model, objective and task runs through."""
import json
import os
import time

import jax
import ml_collections
from tqdm import tqdm

from lm_jax import atomic_files, partitioning
from lm_jax.train import (early_stopping, fault_injection, metrics_writer, nonfinite,
                          train_step as steps)
from lm_jax.train.trainer import Trainer, add_sums

__all__ = ['train_and_evaluate']


def _write_samples(workdir: str, samples: list[dict]) -> None:
  for s in samples:
    print(f'\ninput:      {s["input"]!r}\ntarget:     {s["target"]!r}\n'
          f'prediction: {s["prediction"]!r}')
  # Whole or not at all: a kill never leaves half a file.
  atomic_files.write_text(os.path.join(workdir, 'samples.jsonl'),
                          ''.join(json.dumps(s) + '\n' for s in samples))


def _stop_if_nonfinite(tracker: nonfinite.Tracker, step: int, trainer: Trainer) -> None:
  bad = tracker.first_bad_step()
  if bad is not None:
    trainer.checkpointer.wait()  # the newest save in flight predates the bad step: let it land
    raise nonfinite.NonFiniteError(
        nonfinite.stop_message(bad, step, trainer.checkpointer.latest_step()))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config.num_train_steps` steps (resuming from `workdir`), or until early stopping;
  returns the last metrics.

  Crash safety: step k's metrics are written (and flushed) before its checkpoint starts, and a
  resumed run drops the rows after its checkpoint, so a kill at any point neither loses nor
  repeats a logged step. A non-finite loss or gradient norm stops the run before any later save
  (`config.nonfinite='stop'`) or skips the update (`'skip'`); see lm_jax/train/nonfinite.py.
  """
  trainer = Trainer(config, workdir)
  config = trainer.config  # with init_from and the task resolved
  state = trainer.initial_state()
  start = int(jax.device_get(state.step))
  stopping = config.early_stopping
  stopper = best = None
  if stopping.metric:
    stopper = early_stopping.EarlyStopping(stopping.metric, stopping.mode, stopping.patience)
    if 'early_stopping' in trainer.restored_extra:
      stopper.load_state_dict(trainer.restored_extra['early_stopping'])
    best = trainer.run.best()
  # A run that stopped early and is started again has nothing left to do.
  already_stopped = stopper is not None and stopper.should_stop
  end = start if already_stopped else config.num_train_steps
  writer = metrics_writer.MetricsWriter(workdir, resumed_step=start)
  tracker, skip_nonfinite = nonfinite.Tracker(), config.nonfinite == 'skip'
  kill_switch = fault_injection.KillSwitch()
  last, records = {}, []
  progress = tqdm(total=config.num_train_steps, initial=start, desc='train', unit='step',
                  mininterval=1.0, disable=jax.process_index() != 0)
  sums, window_start = None, time.perf_counter()
  try:
    for step in range(start + 1, end + 1):
      batch = partitioning.shard_batch(next(trainer.train_iter), trainer.batch_sharding)
      state, metrics = trainer.train_step(state, batch)
      sums = add_sums(sums, metrics)
      if not skip_nonfinite:
        tracker.observe(step, metrics['nonfinite'])
      is_last = step == config.num_train_steps
      is_log = step % config.log_every_steps == 0 or is_last
      is_eval = step % config.eval_every_steps == 0 or is_last

      if is_log:
        sums = jax.device_get(sums)
        elapsed = time.perf_counter() - window_start
        summary = steps.summarize(sums)
        last = {'train/loss': summary['loss'], 'train/token_accuracy': summary['token_accuracy'],
                'train/z_loss': summary['z_loss'],
                'train/learning_rate': float(metrics['learning_rate']),
                'train/grad_norm': float(metrics['grad_norm']),
                'train/tokens_per_s': float(sums['tokens']) / elapsed}
        if skip_nonfinite:
          last['train/skipped_steps'] = int(sums['nonfinite'])
        writer.write(step, last)
        progress.set_postfix(loss=f'{summary["loss"]:.3f}',
                             lr=f'{last["train/learning_rate"]:.2e}',
                             tok_s=f'{last["train/tokens_per_s"]:.0f}')
        sums, window_start = None, time.perf_counter()
      # Before anything that evaluates or saves the state: a state past a non-finite step is
      # never checkpointed, so the newest checkpoint stays the last good one.
      if is_log or is_eval or step % config.checkpoint_every_steps == 0:
        _stop_if_nonfinite(tracker, step, trainer)

      stop = False
      if is_eval:
        scores, records = trainer.evaluate(trainer.full_params(state.params), step=step)
        evaluated = {f'eval/{k}': v for k, v in scores.items()}
        writer.write(step, evaluated)
        last.update(evaluated)
        progress.write(f'step {step}: ' + ', '.join(f'{k}={v:.4g}' for k, v in evaluated.items()))
        if stopper is not None:
          if stopper.update(step, scores):
            best.save(step, state.params, {'step': step, 'metric': stopper.metric,
                                           'value': stopper.best_value})
          stop = stopper.should_stop
          if stop:
            progress.write(f'Early stopping at step {step}: eval/{stopper.metric} has not '
                           f'improved for {stopper.patience} evaluations since step '
                           f'{stopper.best_step} ({stopper.best_value:.4g}).')
        window_start = time.perf_counter()  # Keep evaluation out of the training tokens/s.

      kill_switch.maybe_kill('step', step)
      extra = {'early_stopping': stopper.state_dict()} if stopper is not None else None
      trainer.checkpointer.maybe_save(step, state, trainer.train_iter.get_state(), extra=extra,
                                      force=is_last or stop)
      kill_switch.maybe_kill('save', step)
      progress.update(1)
      if stop:
        break
    progress.close()
    if start >= config.num_train_steps:
      print(f'{workdir} is already at step {start} of {config.num_train_steps}; nothing to '
            'train.')
    elif already_stopped:
      print(f'{workdir} stopped early at step {start}; nothing to train.')
    samples = trainer.samples(state.params, records)
    if samples and jax.process_index() == 0:
      _write_samples(workdir, samples)
  finally:  # also on an error: let the saves in flight land, and close every writer
    progress.close()
    _close(trainer.checkpointer, best)
    writer.close()
  return last


def _close(*checkpointers) -> None:
  """Lets the saves in flight land, then closes."""
  for checkpointer in checkpointers:
    if checkpointer is not None:
      checkpointer.wait()
      checkpointer.close()
