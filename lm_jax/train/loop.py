"""`train_and_evaluate`: the one training loop every model, objective and task runs through."""
import json
import os
import time

import jax
import ml_collections
from tqdm import tqdm

from lm_jax.train import early_stopping, metrics_writer, partitioning, train_step as steps
from lm_jax.train.trainer import Trainer, add_sums

__all__ = ['Trainer', 'train_and_evaluate']


def _write_samples(workdir: str, samples: list[dict]) -> None:
  with open(os.path.join(workdir, 'samples.jsonl'), 'w') as f:
    for s in samples:
      f.write(json.dumps(s) + '\n')
      print(f'\ninput:      {s["input"]!r}\ntarget:     {s["target"]!r}\n'
            f'prediction: {s["prediction"]!r}')


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config.num_train_steps` steps (resuming from `workdir`), or until early stopping;
  returns the last metrics."""
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
    best = early_stopping.BestCheckpoint(workdir)
  # A run that stopped early and is started again has nothing left to do.
  already_stopped = stopper is not None and stopper.should_stop
  end = start if already_stopped else config.num_train_steps
  writer = metrics_writer.MetricsWriter(workdir)
  last, records = {}, []
  progress = tqdm(total=config.num_train_steps, initial=start, desc='train', unit='step',
                  mininterval=1.0, disable=jax.process_index() != 0)
  sums, window_start = None, time.perf_counter()
  for step in range(start + 1, end + 1):
    batch = partitioning.shard_batch(next(trainer.train_iter), trainer.batch_sharding)
    state, metrics = trainer.train_step(state, batch)
    sums = add_sums(sums, metrics)
    is_last = step == config.num_train_steps

    if step % config.log_every_steps == 0 or is_last:
      sums = jax.device_get(sums)
      elapsed = time.perf_counter() - window_start
      summary = steps.summarize(sums)
      last = {'train/loss': summary['loss'], 'train/token_accuracy': summary['token_accuracy'],
              'train/z_loss': summary['z_loss'],
              'train/learning_rate': float(metrics['learning_rate']),
              'train/grad_norm': float(metrics['grad_norm']),
              'train/tokens_per_s': float(sums['tokens']) / elapsed}
      writer.write(step, last)
      progress.set_postfix(loss=f'{summary["loss"]:.3f}', lr=f'{last["train/learning_rate"]:.2e}',
                           tok_s=f'{last["train/tokens_per_s"]:.0f}')
      sums, window_start = None, time.perf_counter()

    stop = False
    if step % config.eval_every_steps == 0 or is_last:
      scores, records = trainer.evaluate(state.params)
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
          progress.write(f'Early stopping at step {step}: eval/{stopper.metric} has not improved '
                         f'for {stopper.patience} evaluations since step {stopper.best_step} '
                         f'({stopper.best_value:.4g}).')
      window_start = time.perf_counter()  # Keep evaluation out of the training tokens/s.

    extra = {'early_stopping': stopper.state_dict()} if stopper is not None else None
    trainer.checkpointer.maybe_save(step, state, trainer.train_iter.get_state(), extra=extra,
                                    force=is_last or stop)
    progress.update(1)
    if stop:
      break
  progress.close()

  if start >= config.num_train_steps:
    print(f'{workdir} is already at step {start} of {config.num_train_steps}; nothing to train.')
  elif already_stopped:
    print(f'{workdir} stopped early at step {start}; nothing to train.')
  samples = trainer.samples(state.params, records)
  if samples and jax.process_index() == 0:
    _write_samples(workdir, samples)
  for closable in (trainer.checkpointer, best):
    if closable is not None:
      closable.wait()
      closable.close()
  writer.close()
  return last
