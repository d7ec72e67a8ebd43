"""`Trainer`: what one run builds once (mesh, model, data, jitted steps, checkpointer) and the
evaluation every mode shares, so that eval mode scores exactly what training logged."""
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from lm_jax import families, models, partitioning
from lm_jax.data import fingerprint, pipeline, tasks
from lm_jax.evaluation import samples as samples_lib
from lm_jax.evaluation import metrics, task_eval
from lm_jax.peft import lora
from lm_jax.train import adapters as adapters_lib
from lm_jax.train import finetune, optimizers, preference_losses, preference_run, run_config
from lm_jax.train import train_step as steps
from lm_jax.train.run_dir import RunDir


def _count(params) -> int:
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


def add_sums(total, new):
  return new if total is None else jax.tree.map(jnp.add, total, new)


class Trainer:
  """`training=False` builds what restoring and using a checkpoint needs, and no train data: the
model and data the run in `workdir` trained with (run_config.as_trained)."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str, training: bool = True):
    self.run = RunDir(workdir)  # refuses a run directory of a newer format, before any work
    config, self.pretrained = run_config.resolve(config, self.run, training)
    self.config, self.workdir = config, workdir
    if training and config.finetune.mode != 'full' and self.pretrained is None:
      raise ValueError("config.finetune.mode='frozen' keeps pretrained weights fixed, so it needs "
                       '--config.init_from=<lm_jax workdir or Hugging Face directory>.')
    self.model = models.build_model(config.model)  # Rejects unknown model keys before any compute.
    self.family = families.of(self.model).name  # a model class must declare its family
    self.task = tasks.get(config.data.task) if config.data.task else None
    if training:  # eval and generate modes never stop early, whatever eval.metrics they score
      self._check_early_stopping_metric()
    self.mesh = partitioning.create_mesh(
        {axis: config.mesh[axis] for axis in partitioning.MESH_AXES})
    partitioning.check_heads(self.model.config, self.mesh)
    self.global_batch = partitioning.global_batch_size(config.per_device_batch_size, self.mesh)
    self.replicated = partitioning.replicated(self.mesh)
    self.batch_sharding = partitioning.batch_sharding(self.mesh)
    shapes = pipeline.batch_shapes(config.data, self.global_batch, family=self.family,
                                   preference=config.preference)
    families.check_batch_keys(self.model, shapes, config.data.objective, task=config.data.task)

    self.tokenizer = pipeline.load_tokenizer_for(config.data)
    if self.tokenizer.vocab_size > config.model.vocab_size:
      raise ValueError(
          f'The tokenizer has {self.tokenizer.vocab_size} ids (with {config.data.num_extra_ids} '
          f'sentinels) but config.model.vocab_size is {config.model.vocab_size}: raise '
          f'--config.model.vocab_size or lower --config.data.tokenizer_vocab_size.')
    model_pad_id = getattr(self.model.config, 'pad_token_id', None)  # models that mask by id
    if model_pad_id is not None and model_pad_id != self.tokenizer.pad_id:
      raise ValueError(
          f'config.model.pad_token_id is {model_pad_id} but the tokenizer '
          f'{self.tokenizer.path} pads with id {self.tokenizer.pad_id}: the model would attend '
          'to padding. Use the tokenizer the model was trained with (config.data.tokenizer_path),'
          f' or set pad_token_id={self.tokenizer.pad_id} in config.model.')
    # Every host reads the whole global batch (`shard_batch` places its devices' rows), so all
    # hosts hold one data state: host 0's checkpoint of it resumes them all, and a run is the
    # same on any number of hosts. The price: each host tokenizes every row.
    self.train_iter = pipeline.make_train_iterator(
        config.data, self.tokenizer, self.global_batch, config.seed,
        family=self.family, preference=config.preference) if training else None

    # Shapes only: checks the adapter targets and labels frozen parameters without reading a
    # weight (a resuming run never needs init_from's values for that).
    abstract = jax.eval_shape(
        lambda rng: steps.init_params(self.model, rng, shapes), jax.random.key(0))
    self.adapters = self._adapters(abstract)
    # One compiled merge for all of the run's evaluations.
    self._merge = jax.jit(self.adapters.merged) if self.adapters is not None else None
    labels = self._param_labels(abstract) if training else None
    self.optimizer, self.schedule = optimizers.make_optimizer(
        config.optimizer, config.num_train_steps, param_labels=labels,
        adapters=self.adapters is not None)
    self.rules = tuple(map(tuple, config.mesh.rules)) or partitioning.DEFAULT_RULES
    self._init, self._train_step, self.eval_step, self.state_sharding = steps.jit_steps(
        self.model, self.optimizer, self.schedule, config.loss, self.mesh, shapes,
        param_labels=labels, nonfinite=config.nonfinite, adapters=self.adapters,
        grad_accum_steps=config.grad_accum_steps,
        preference_loss=preference_losses.for_config(config.preference), rules=self.rules)
    self.preference = (preference_run.PreferenceRun(config, self.model, self.tokenizer,
                                                    self.mesh, self.eval_step, self.global_batch)
                       if config.preference.objective != 'none' else None)
    self.checkpointer = self.run.checkpointer(
        config.checkpoint_every_steps, config.keep_checkpoints,
        restore_fallback=config.restore_fallback, writer=training)
    self.run.check_compatible(config, self.checkpointer, training, self.tokenizer.path)
    self.base, base_record = self._frozen_base(abstract)
    if training:
      self.run.record(config, self.tokenizer.path, adapter_base=base_record)
      self.run.record_parameter_counts(_count(abstract), self._trainable_count(abstract, labels))
      # The data is prepared by now; a result can be traced to what it saw.
      fingerprint.write_fingerprint(workdir, config.data)
    self.restored_extra = {}

  def metric_names(self) -> tuple[str, ...]:
    """The metrics scored on decoded predictions: config.eval.metrics, else the task's own."""
    return tuple(self.config.eval.metrics) or (self.task.metrics if self.task else ())

  def _check_early_stopping_metric(self):
    metric = self.config.early_stopping.metric
    known = ('loss', 'perplexity', 'token_accuracy', *metrics.output_keys(self.metric_names()))
    if metric and metric not in known:
      raise ValueError(f'config.early_stopping.metric={metric!r} is not an eval metric of this '
                       f'run; choose one of {", ".join(known)}.')

  def _adapters(self, abstract):
    """The adapters of a parameter-efficient run (config.peft), checked against the model's
    shapes before any compute; None for a run that trains the model's own parameters."""
    if self.config.peft.method == 'none':
      return None
    if self.pretrained is None:
      raise ValueError(f'config.peft.method={self.config.peft.method!r} trains adapters on top '
                       'of pretrained weights, so it needs --config.init_from=<lm_jax workdir or '
                       'Hugging Face directory>.')
    _, report = finetune.merge_params(abstract, self.pretrained.param_shapes)
    return adapters_lib.Adapters.from_config(self.config.peft, self.model, abstract, report.new,
                                             tokenizer=self.tokenizer, seed=self.config.seed)

  def _frozen_base(self, abstract):
    """(the frozen base on the devices, what identifies it) for an adapter run, else
    (None, None). The base is init_from's weights; adapters trained on another base (a
    retrained or edited init_from) are refused before any compute."""
    if self.adapters is None:
      return None, None
    record = adapters_lib.base_record(self.config.init_from, self.pretrained)
    adapters_lib.check_base(self.run.adapter_base(), record, self.workdir)
    params, _ = finetune.merge_params(
        jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), abstract), self.pretrained.params)
    base = self.adapters.frozen_base(params)
    print(f'Frozen base: {self.pretrained.description}. '
          + self.adapters.describe(_count(base), self._placed_state_shapes.params))
    return jax.device_put(base, partitioning.param_shardings(self.mesh, base, self.rules)), record

  @functools.cached_property
  def _placed_state_shapes(self):
    """The train state's shapes, placed as the steps place it: what restoring reads into, from a
    checkpoint of any mesh."""
    shapes = jax.eval_shape(self._init, jax.random.key_data(jax.random.key(0)))
    return jax.tree.map(lambda s, sharding: jax.ShapeDtypeStruct(s.shape, s.dtype,
                                                                 sharding=sharding),
                        shapes, self.state_sharding)

  def _trainable_count(self, abstract, labels) -> int:
    if self.adapters is not None:
      return _count(self._placed_state_shapes.params)
    if labels is not None:
      pairs = zip(jax.tree.leaves(abstract), jax.tree.leaves(labels))
      return sum(int(np.prod(p.shape)) for p, label in pairs if label == finetune.TRAINABLE)
    return _count(abstract)

  def train_step(self, state, batch):
    """One jitted step: (state, metric sums); `state` is donated."""
    return self._train_step(state, batch, self.base)

  def full_params(self, params):
    """The whole model's parameters for the train state's `params`: for an adapter run the base
    with the adapters merged in (what evaluation and decoding use), else `params` itself."""
    if self.adapters is None:
      return params
    merged = self._merge(self.base, params)
    lora.check_finite(merged, f'{self.workdir}')
    return merged

  def _param_labels(self, abstract):
    """'trainable' / 'frozen' per parameter for frozen feature extraction, else None (all learn)."""
    if self.config.finetune.mode == 'full':
      return None
    _, report = finetune.merge_params(abstract, self.pretrained.param_shapes)
    return finetune.trainable_labels(abstract, self.config.finetune.mode,
                                     self.config.finetune.trainable, report.new)

  def _restore_latest(self):
    rng = jax.random.key_data(jax.random.key(self.config.seed))
    return rng, self.checkpointer.restore_latest(self._placed_state_shapes)

  def latest_params(self):
    """(params, step) of the latest checkpoint, read without the optimizer state (whose structure
    depends on what was frozen); a workdir without one is an error."""
    params, step = self.run.read_params()
    return self.full_params(jax.device_put(params, self.state_sharding.params)), step

  def best_params(self):
    """(params, step) of `<workdir>/checkpoints_best`, kept when early_stopping.metric is set."""
    best = self.run.best()
    try:
      restored = best.restore_params(self._placed_state_shapes.params)
    finally:
      best.close()
    if restored is None:
      raise FileNotFoundError(
          f'No best checkpoint in {best.directory}: it is kept only when training ran with '
          '--config.early_stopping.metric=<eval metric>. Use --config.eval.checkpoint=latest.')
    params, info = restored
    return self.full_params(params), int(info['step'])

  def initial_state(self):
    """The latest checkpoint (state, data position, loop state) or a fresh initialisation,
    with `config.init_from`'s weights when it is set."""
    rng, restored = self._restore_latest()
    if restored is None:
      state = self._init(rng)
      if self.adapters is not None:  # prompt tuning starts from the base's embeddings
        params = self.adapters.start_from_base(state.params, self.base)
        state = state.replace(params=jax.device_put(params, self.state_sharding.params))
      if self.pretrained is not None and self.adapters is None:
        params, report = finetune.merge_params(state.params, self.pretrained.params)
        state = state.replace(params=jax.device_put(params, self.state_sharding.params))
        print(f'Initialised from {self.pretrained.description}: {report.summary()}')
      if self.preference is not None:  # conditional training's control-token embeddings
        params = self.preference.start(state.params, jax.random.fold_in(jax.random.key(
            self.config.seed), 2))
        state = state.replace(params=jax.device_put(params, self.state_sharding.params))
      return state
    self.train_iter.set_state(restored.data_state)
    self.restored_extra = restored.extra
    print(f'Resumed from {self.checkpointer.directory} at step {restored.step}.')
    return restored.state

  def _eval_batches(self, data_config, batch_size):
    return pipeline.make_eval_iterator(data_config, self.tokenizer, batch_size, self.config.seed,
                                       family=self.family)

  def evaluate(self, params, split: str | None = None,
               step: int = 0) -> tuple[dict, list[dict]]:
    """(metrics, prediction records) on `split` (default data.eval_split): loss, perplexity and
    token accuracy over `num_eval_batches`, plus the task's metrics of decoded predictions.

    One pass over the split feeds both: the loss of its first `num_eval_batches` batches and
    the predictions for its first `eval.num_examples` examples.
    """
    data_config = run_config.for_split(self.config.data, split)
    batches = self._eval_batches(data_config, self.global_batch)
    loss_batches = self.config.num_eval_batches
    wanted = 0  # predictions to make
    if self.task is not None:
      num_examples = self.config.eval.num_examples
      wanted = len(batches.examples) if num_examples is None else min(num_examples,
                                                                        len(batches.examples))
    rng, options = jax.random.key(self.config.seed), self._generate_options()
    sums, predictions = None, []
    for i, batch in enumerate(batches):
      scores_loss = loss_batches is None or i < loss_batches
      if not scores_loss and len(predictions) >= wanted:
        break
      if scores_loss:
        sums = add_sums(sums, self.eval_step(params, partitioning.shard_batch(
            batch, self.batch_sharding)))
      if len(predictions) < wanted:
        predictions += task_eval.predict_batch(
            self.model, params, batch, self.tokenizer, self.task.labels,
            options, data_config.targets_length,
            rng=jax.random.fold_in(rng, len(predictions)), sharding=self.batch_sharding)
    metrics = steps.summarize(jax.device_get(sums))
    if self.preference is not None:  # misalignment of samples (their keys folded with `step`)
      metrics.update(self.preference.evaluate(params, step))
    if self.task is None:
      return metrics, []
    scores, records = task_eval.score(self.metric_names(), predictions[:wanted],
                                      batches.examples)
    return {**metrics, **scores}, records

  def _generate_options(self) -> dict:
    options = self.config.generate.to_dict()
    del options['max_new_tokens']  # a task decodes up to its targets_length
    return options

  def samples(self, params, records) -> list[dict]:
    """A few predictions to read beside the numbers: a task's first scored records, or the
    pretraining objective's samples (see lm_jax/evaluation/samples.py) decoded with the train
    state's `params`."""
    n = self.config.num_samples
    if not n:
      return []
    if self.task is not None:
      return [{'input': r['input'], 'target': r['references'][0], 'prediction': r['prediction']}
              for r in records[:n]]
    batch = next(iter(self._eval_batches(self.config.data, n)))
    return samples_lib.predict_samples(self.model, self.full_params(params), batch,
                                       self.tokenizer)
