"""`train_and_evaluate`: the one training loop every model and objective runs through."""
import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
from tqdm import tqdm

from lm_jax import config_schema, models
from lm_jax.data import pipeline
from lm_jax.evaluation import samples as samples_lib
from lm_jax.train import (checkpoints, metrics_writer, model_io, optimizers, partitioning,
                          train_step as steps)


def _add(total, new):
  return new if total is None else jax.tree.map(jnp.add, total, new)


class Trainer:
  """Holds what one run builds once: mesh, model, data, jitted steps, checkpointer, writer."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str, training: bool = True):
    """`training=False` builds what restoring and using a checkpoint needs, and no train data."""
    config_schema.validate_config(config)
    self.config, self.workdir = config, workdir
    self.model = models.build_model(config.model)  # Rejects unknown model keys before any compute.
    self.mesh = partitioning.create_mesh()
    self.global_batch = partitioning.global_batch_size(config.per_device_batch_size, self.mesh)
    self.host_batch = partitioning.process_batch_size(self.global_batch, self.mesh)
    self.replicated = partitioning.replicated(self.mesh)
    self.batch_sharding = partitioning.batch_sharding(self.mesh)
    shapes = pipeline.batch_shapes(config.data, self.global_batch)
    model_io.check_batch_keys(self.model, shapes, config.data.objective)

    self.tokenizer = pipeline.load_tokenizer_for(config.data)
    if self.tokenizer.vocab_size > config.model.vocab_size:
      raise ValueError(
          f'The tokenizer has {self.tokenizer.vocab_size} ids (with {config.data.num_extra_ids} '
          f'sentinels) but config.model.vocab_size is {config.model.vocab_size}: raise '
          f'--config.model.vocab_size or lower --config.data.tokenizer_vocab_size.')
    # Multi-host: every host runs this iterator for its own rows; seeds differ per host.
    self.train_iter = pipeline.make_train_iterator(
        config.data, self.tokenizer, self.host_batch,
        config.seed + jax.process_index()) if training else None

    self.optimizer, self.schedule = optimizers.make_optimizer(config.optimizer,
                                                              config.num_train_steps)
    self._init, self.train_step, self.eval_step = steps.jit_steps(
        self.model, self.optimizer, self.schedule, config.loss, self.mesh, shapes)
    self.checkpointer = checkpoints.Checkpointer(workdir, config.checkpoint_every_steps,
                                                 config.keep_checkpoints)
    self.checkpointer.check_config(config, write=training)

  def _restore_latest(self):
    rng = jax.random.key_data(jax.random.key(self.config.seed))
    abstract = jax.eval_shape(self._init, rng)
    abstract = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=self.replicated), abstract)
    return rng, self.checkpointer.restore_latest(abstract)

  def latest_params(self):
    """(params, step) of the latest checkpoint; a workdir without one is an error."""
    _, restored = self._restore_latest()
    if restored is None:
      raise FileNotFoundError(
          f'No checkpoint in {self.checkpointer.directory}: train first (the same command '
          'without --config.mode), or point --workdir at a trained run.')
    state, _, step = restored
    return state.params, step

  def initial_state(self):
    """The latest checkpoint (state and data position) or a fresh initialisation."""
    rng, restored = self._restore_latest()
    if restored is None:
      return self._init(rng)
    state, data_state, step = restored
    self.train_iter.set_state(data_state)
    print(f'Resumed from {self.checkpointer.directory} at step {step}.')
    return state

  def evaluate(self, params) -> dict:
    eval_iter = pipeline.make_eval_iterator(self.config.data, self.tokenizer, self.host_batch,
                                            self.config.seed)
    sums = None
    for i, batch in enumerate(eval_iter):
      if self.config.num_eval_batches is not None and i >= self.config.num_eval_batches:
        break
      sums = _add(sums, self.eval_step(params, partitioning.shard_batch(batch,
                                                                        self.batch_sharding)))
    return steps.summarize(jax.device_get(sums))

  def samples(self, params) -> list[dict]:
    """Predictions for the first validation examples (see lm_jax/evaluation/samples.py)."""
    n = self.config.num_samples
    if not n:
      return []
    batch = next(iter(pipeline.make_eval_iterator(self.config.data, self.tokenizer, n,
                                                  self.config.seed)))
    return samples_lib.predict_samples(self.model, params, batch, self.tokenizer)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config.num_train_steps` steps (resuming from `workdir`); returns the last metrics."""
  trainer = Trainer(config, workdir)
  state = trainer.initial_state()
  start = int(jax.device_get(state.step))
  writer = metrics_writer.MetricsWriter(workdir)
  last = {}
  progress = tqdm(total=config.num_train_steps, initial=start, desc='train', unit='step',
                  mininterval=1.0, disable=jax.process_index() != 0)
  sums, window_start = None, time.perf_counter()
  for step in range(start + 1, config.num_train_steps + 1):
    batch = partitioning.shard_batch(next(trainer.train_iter), trainer.batch_sharding)
    state, metrics = trainer.train_step(state, batch)
    sums = _add(sums, metrics)
    is_last = step == config.num_train_steps

    if step % config.log_every_steps == 0 or is_last:
      sums = jax.device_get(sums)
      elapsed = time.perf_counter() - window_start
      summary = steps.summarize(sums)
      last = {'train/loss': summary['loss'], 'train/accuracy': summary['accuracy'],
              'train/z_loss': summary['z_loss'],
              'train/learning_rate': float(metrics['learning_rate']),
              'train/grad_norm': float(metrics['grad_norm']),
              'train/tokens_per_s': float(sums['tokens']) / elapsed}
      writer.write(step, last)
      progress.set_postfix(loss=f'{summary["loss"]:.3f}', lr=f'{last["train/learning_rate"]:.2e}',
                           tok_s=f'{last["train/tokens_per_s"]:.0f}')
      sums, window_start = None, time.perf_counter()

    if step % config.eval_every_steps == 0 or is_last:
      evaluated = {f'eval/{k}': v for k, v in trainer.evaluate(state.params).items()}
      writer.write(step, evaluated)
      last.update(evaluated)
      progress.write(f'step {step}: ' + ', '.join(f'{k}={v:.4g}' for k, v in evaluated.items()))
      window_start = time.perf_counter()  # Keep evaluation out of the training tokens/s.

    trainer.checkpointer.maybe_save(step, state, trainer.train_iter.get_state(), force=is_last)
    progress.update(1)
  progress.close()

  if start >= config.num_train_steps:
    print(f'{workdir} is already at step {start} of {config.num_train_steps}; nothing to train.')
  samples = trainer.samples(state.params)
  if samples and jax.process_index() == 0:
    with open(os.path.join(workdir, 'samples.jsonl'), 'w') as f:
      for s in samples:
        f.write(json.dumps(s) + '\n')
        print(f'\ninput:      {s["input"]!r}\ntarget:     {s["target"]!r}\n'
              f'prediction: {s["prediction"]!r}')
  trainer.checkpointer.wait()
  trainer.checkpointer.close()
  writer.close()
  return last
