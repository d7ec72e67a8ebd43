"""Every experiment key with its default, and the start-up checks that reject bad configs.

Config files start from `default_config()` and change values; a key that is not here is a typo
or a feature that does not exist, and `validate_config` says so before any compute is spent.
"""
import difflib
import re

import ml_collections

from lm_jax.choices import (DECODING_STRATEGIES, EARLY_STOPPING_MODES, EVAL_CHECKPOINTS,
                            FINETUNE_MODES, LORA_INITS, NONFINITE_ACTIONS, PROMPT_INITS, OPTIMIZERS,
                            PEFT_METHODS, PREFERENCE_OBJECTIVES, RUN_MODES, SCHEDULES)


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.mode = 'train'                 # 'eval': score a checkpoint; 'generate': continue --prompt texts;
                                   # 'merge': an adapter run's weights folded into its base.
  c.seed = 0
  c.num_train_steps = 1000
  c.per_device_batch_size = 8
  # The batch of one optimizer step is computed as this many microbatches of
  # per_device_batch_size / grad_accum_steps rows per device, their gradients summed: the same
  # step in less activation memory (lm_jax/train/train_step.py).
  c.grad_accum_steps = 1
  # The device mesh (lm_jax/partitioning): data x fsdp x tensor devices, -1 for the remaining
  # ones. The default is pure data parallelism: every device holds all parameters.
  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = -1
  c.mesh.fsdp = 1                  # fully sharded data parallel: weights split along d_model
  c.mesh.tensor = 1                # tensor parallel: heads, MLP units and vocabulary split
  # (logical axis, mesh axis or None) pairs; () = partitioning.DEFAULT_RULES.
  c.mesh.rules = ()
  c.log_every_steps = 10
  c.eval_every_steps = 200
  c.num_eval_batches = 20          # None: the whole validation split.
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 3
  # Resuming from a checkpoint whose arrays fail their integrity check raises CheckpointError;
  # True falls back to the newest intact step instead (and says so).
  c.restore_fallback = False
  # A non-finite loss or gradient norm: 'stop' ends the run naming the step (the last good
  # checkpoint stays the latest); 'skip' drops that update (its batch is consumed, the step and
  # the schedule advance, parameters and optimizer moments stay) and counts it in metrics.jsonl.
  c.nonfinite = 'stop'
  c.num_samples = 4                # decoded validation examples shown at the end.
  # Fine-tuning starts from pretrained weights: an lm_jax workdir (its latest checkpoint, model
  # config and tokenizer) or a local Hugging Face directory (lm_jax.convert.from_hf).
  c.init_from = ml_collections.config_dict.placeholder(str)

  c.finetune = ml_collections.ConfigDict()
  c.finetune.mode = 'full'         # 'frozen': feature extraction, only `trainable` parameters learn.
  c.finetune.trainable = ''        # frozen: regex on '/'-joined parameter paths; '' = the parameters
                                   # init_from did not provide (a new task head).

  # Parameter-efficient fine-tuning of the init_from model (docs/peft.md): its weights stay
  # frozen, and the run trains and checkpoints the adapters (and any new head) alone.
  c.peft = ml_collections.ConfigDict()
  c.peft.method = 'none'           # 'lora': low-rank adapters (Hu et al. 2021); 'prefix':
                                   # key/value prefixes in every attention (Li & Liang 2021);
                                   # 'prompt': virtual-token embeddings (Lester et al. 2021).
  c.peft.rank = 8                  # r, peft's default.
  c.peft.alpha = 8.0               # the update is scaled by alpha / r (peft's default alpha).
  c.peft.use_rslora = False        # scale by alpha / sqrt(r) instead (rsLoRA).
  c.peft.dropout = 0.0             # dropout on the LoRA path's input.
  c.peft.init = 'kaiming'          # lora_a: peft's kaiming-uniform default, or 'gaussian'.
  c.peft.targets = ()              # Dense layer name patterns, or ('all-linear',); () = the
                                   # family's default (peft's: T5 and BERT query, value; GPT-2 q, k, v).
  c.peft.num_virtual_tokens = 20   # prefix, prompt: P, the key/value vectors per attention
                                   # layer, or the virtual tokens in front of the input.
  c.peft.prefix_projection = False  # prefix: train them as an MLP of a (P, d_model) embedding
                                   # (Li & Liang's reparameterisation), folded away to evaluate.
  c.peft.prompt_init = 'vocab'     # prompt: start as embeddings of common vocabulary tokens, or
  c.peft.prompt_init_text = ''     # 'text': of this text's tokens, repeated to P (peft's TEXT).

  # Stop when the eval metric has not improved for `patience` evaluations (0: never stop); a
  # named metric also keeps its best checkpoint in <workdir>/checkpoints_best.
  c.early_stopping = ml_collections.ConfigDict()
  c.early_stopping.metric = ''     # an eval key without 'eval/', e.g. 'bleu', 'rougeL', 'loss'.
  c.early_stopping.mode = 'max'
  c.early_stopping.patience = 0

  # Task evaluation: decoded predictions scored by the metrics of lm_jax/evaluation/metrics.py.
  c.eval = ml_collections.ConfigDict()
  c.eval.metrics = ()              # metric names; () = the task's own (lm_jax/data/tasks).
  c.eval.num_examples = 200        # decoded per evaluation, from the start of the split (None: all).
  c.eval.split = ml_collections.config_dict.placeholder(str)  # eval mode; None = data.eval_split.
  c.eval.checkpoint = 'latest'     # eval mode: 'latest' or 'best' (checkpoints_best).
  c.eval.baseline = False          # eval mode: also score the task's trivial baseline.
  # Eval mode: '<dataset>:<feature>' (the pretraining text) whose 13-grams mark test examples as
  # dirty; the scores are then also reported on the clean rest (lm_jax/evaluation/held_out.py).
  c.eval.decontaminate_against = ml_collections.config_dict.placeholder(str)
  c.eval.decontaminate_ngram = 13  # GPT-3's N; shorter texts (UI messages) need a smaller one.

  c.loss = ml_collections.ConfigDict()
  c.loss.label_smoothing = 0.0
  c.loss.z_loss = 1e-4             # T5X's auxiliary log(Z)^2 term that keeps the softmax normaliser near 1.

  # Model keys are owned and checked by the model's own config class (lm_jax/models).
  c.model = ml_collections.ConfigDict({'name': 't5'})

  c.data = ml_collections.ConfigDict()
  c.data.dataset = 'stdlib_docs'
  # A downstream task (lm_jax/data/tasks): its dataset and preprocessing replace `dataset` and
  # `objective`; None pretrains on `dataset` with `objective`.
  c.data.task = ml_collections.config_dict.placeholder(str)
  c.data.data_dir = ml_collections.config_dict.placeholder(str)
  c.data.download = False
  c.data.text_feature = 'text'
  c.data.train_split = 'train'
  c.data.eval_split = 'validation'
  c.data.tokenizer_path = ml_collections.config_dict.placeholder(str)
  c.data.tokenizer_vocab_size = 8000
  # '<dataset>:<feature>' whose train split joins the tokenizer's training text (not the model's):
  # T5 trained its vocabulary on C4 with German, French and Romanian so that an English-pretrained
  # model could later translate (Raffel et al. 2020, §2.2).
  c.data.tokenizer_extra_text = ()
  c.data.num_extra_ids = 100
  c.data.inputs_length = 512
  c.data.targets_length = 114
  c.data.noise_density = 0.15
  c.data.mean_noise_span_length = 3.0
  c.data.objective = 'span_corruption'  # or causal_lm, prefix_lm, mlm: lm_jax/data/objectives.
  c.data.pack = True  # several to a row (False: one per row): causal_lm documents end to end,
                     # a task's training examples (T5X fine-tuning; not the classifier's).
  c.data.mlm_probability = 0.15    # BERT: share of tokens selected for prediction,
  c.data.mlm_mask_fraction = 0.8   # of which this share becomes the mask id,
  c.data.mlm_random_fraction = 0.1  # this a random token, and the rest stays as it is.

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = 'adafactor'
  c.optimizer.learning_rate = 0.01   # peak value of the schedule.
  c.optimizer.schedule = 'rsqrt'
  c.optimizer.warmup_steps = 10_000
  c.optimizer.end_learning_rate_fraction = 0.0  # cosine / linear decay end, as a fraction of the peak.
  c.optimizer.grad_clip_norm = 1.0  # 0 disables global-norm clipping.
  c.optimizer.weight_decay = 0.0    # AdamW only; never applied to norm scales.
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.adafactor_decay_rate = 0.8
  c.optimizer.adafactor_clipping_threshold = 1.0

  # Pretraining with human preferences (Korbak et al. 2023; docs/preference.md): each token
  # carries the score of its line, and the objective turns scores into a data transform and a
  # loss on this same loop. 'none': an ordinary run, with none of it.
  c.preference = ml_collections.ConfigDict()
  c.preference.objective = 'none'  # one of choices.PREFERENCE_OBJECTIVES
  c.preference.scorer = 'pep8'     # lm_jax.preference.SCORERS: 'pep8' (pycodestyle), 'pii'
  # filtering: drop documents whose score (mean line score) is above it (Korbak: 0.002361);
  # conditional: a line is <|aligned|> when its score is <= it; unlikelihood: tokens whose
  # line scores above it are undesirable. Scores are violations per character, >= 0.
  c.preference.threshold = 0.0
  c.preference.drop_control_fraction = 0.1  # conditional: lines left without a control token.
  c.preference.alpha = 1.0         # unlikelihood: weight of log(1 - p) on undesirable tokens
                                   # (0.01); awr: weight of the weighted cross-entropy (0.05).
  c.preference.beta = 1.0          # rwr, awr: temperature of the weights exp(R / beta) (10; 1).
  c.preference.max_weight = 1000.0  # awr: weights exp(A / beta) are clipped here.
  # Misalignment evaluated every eval_every_steps: the mean score of samples and score_max@25.
  c.preference.eval_samples = 50   # unconditional samples (a multiple of 25); 0: none.
  c.preference.eval_prompts = 25   # held-out function signatures + docstrings continued; 0: none.
  c.preference.eval_max_length = 128  # tokens per sample, the prompt included (Korbak: 640).
  c.preference.eval_temperature = 0.7
  c.preference.eval_top_p = 0.9
  # KL(reference || model) per token on samples of this run's model (Korbak: GPT-3 as the
  # reference); an lm_jax workdir, e.g. the MLE run's; None: not measured.
  c.preference.kl_reference = ml_collections.config_dict.placeholder(str)

  # Decoding options of `--config.mode=generate` (lm_jax.generate's keyword arguments).
  c.generate = ml_collections.ConfigDict()
  c.generate.max_new_tokens = 64
  c.generate.strategy = 'greedy'
  c.generate.temperature = 1.0     # sample: logits / temperature; 0 is greedy.
  c.generate.top_k = 0             # sample: keep the k most likely tokens (0: all).
  c.generate.top_p = 1.0           # sample: keep the smallest set with this much mass.
  c.generate.num_beams = 4
  c.generate.length_penalty = 1.0  # beam: score = log-prob / length ** length_penalty.
  c.generate.no_repeat_ngram_size = 0  # n > 0: never generate an n-gram twice (HF's option).
  return c


def _unknown_keys(config, schema, prefix=''):
  for key in config.keys():
    name = f'{prefix}{key}'
    if key not in schema:
      yield name
    elif isinstance(schema[key], ml_collections.ConfigDict) and key != 'model':
      yield from _unknown_keys(config[key], schema[key], name + '.')


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first unknown or inconsistent key."""
  schema = default_config()
  for name in _unknown_keys(config, schema):
    raise ValueError(unknown_key_message(schema, name))

  def require(ok, key, why):
    if not ok:
      value = config
      for part in key.split('.'):
        value = value[part]
      raise ValueError(f'Config key {key!r} = {value!r}: {why}.')

  for key in ('num_train_steps', 'per_device_batch_size', 'log_every_steps', 'eval_every_steps',
              'checkpoint_every_steps', 'keep_checkpoints', 'grad_accum_steps'):
    require(isinstance(config[key], int) and config[key] > 0, key, 'must be a positive integer')
  require(config.per_device_batch_size % config.grad_accum_steps == 0, 'grad_accum_steps',
          f'must divide per_device_batch_size ({config.per_device_batch_size}) into equal '
          'microbatches; choose a divisor of it, or a per_device_batch_size that is a multiple')
  require(config.num_eval_batches is None or config.num_eval_batches > 0, 'num_eval_batches',
          'must be positive, or None for the whole split')
  require(config.num_samples >= 0, 'num_samples', 'must be >= 0')
  for axis in ('data', 'fsdp', 'tensor'):
    size = config.mesh[axis]
    require(isinstance(size, int) and (size > 0 or size == -1), f'mesh.{axis}',
            'must be a positive number of devices, or -1 for the remaining devices')
  require([config.mesh[a] for a in ('data', 'fsdp', 'tensor')].count(-1) <= 1, 'mesh.data',
          'at most one mesh axis can be -1 (the remaining devices)')
  require(all(isinstance(rule, (tuple, list)) and len(rule) == 2 and isinstance(rule[0], str)
              and rule[1] in (None, 'data', 'fsdp', 'tensor') for rule in config.mesh.rules),
          'mesh.rules', "must be (logical axis, mesh axis or None) pairs, e.g. (('embed', "
          "'fsdp'), ('heads', 'tensor'))")
  require(0 <= config.loss.label_smoothing < 1, 'loss.label_smoothing', 'must be in [0, 1)')
  require(config.loss.z_loss >= 0, 'loss.z_loss', 'must be >= 0')

  d = config.data
  require(d.inputs_length > 0, 'data.inputs_length', 'must be positive')
  require(d.targets_length > 0, 'data.targets_length', 'must be positive')
  require(0 < d.noise_density < 1, 'data.noise_density', 'must be in (0, 1)')
  require(d.mean_noise_span_length >= 1, 'data.mean_noise_span_length', 'must be >= 1')
  require(d.num_extra_ids > 0, 'data.num_extra_ids', 'span corruption needs sentinel ids')
  from lm_jax.data import sources  # the data layer owns the '<dataset>:<feature>' form
  require(all(sources.is_text_spec(e) for e in d.tokenizer_extra_text),
          'data.tokenizer_extra_text', "must name '<dataset>:<feature>' pairs, e.g. ('system_translations/de:target',)")
  from lm_jax.data import objectives  # the registry owns the objective names
  require(d.objective in objectives.NAMES, 'data.objective',
          f'must be one of {", ".join(objectives.NAMES)}')
  require(isinstance(d.pack, bool), 'data.pack', 'must be True or False')
  require(0 < d.mlm_probability <= 1, 'data.mlm_probability', 'must be in (0, 1]')
  require(0 <= d.mlm_mask_fraction <= 1, 'data.mlm_mask_fraction', 'must be in [0, 1]')
  require(0 <= d.mlm_random_fraction <= 1, 'data.mlm_random_fraction', 'must be in [0, 1]')
  require(d.mlm_mask_fraction + d.mlm_random_fraction <= 1, 'data.mlm_random_fraction',
          'mlm_mask_fraction + mlm_random_fraction must be <= 1 (the rest of the selected '
          'tokens are kept)')
  if not d.task:  # the objective owns its length rule (e.g. span corruption's targets length)
    objectives.get(d.objective).check_lengths(d)

  require(config.mode in RUN_MODES, 'mode', f'must be one of {RUN_MODES}')
  require(config.nonfinite in NONFINITE_ACTIONS, 'nonfinite',
          f'must be one of {NONFINITE_ACTIONS}')
  require(isinstance(config.restore_fallback, bool), 'restore_fallback', 'must be True or False')
  g = config.generate
  require(isinstance(g.max_new_tokens, int) and g.max_new_tokens > 0, 'generate.max_new_tokens',
          'must be a positive integer')
  require(g.strategy in DECODING_STRATEGIES, 'generate.strategy',
          f'must be one of {DECODING_STRATEGIES}')
  require(g.temperature >= 0, 'generate.temperature', 'must be >= 0 (0 decodes greedily)')
  require(g.top_k >= 0, 'generate.top_k', 'must be >= 0 (0 keeps every token)')
  require(0 < g.top_p <= 1, 'generate.top_p', 'must be in (0, 1]')
  require(isinstance(g.num_beams, int) and g.num_beams >= 1, 'generate.num_beams',
          'must be a positive integer')
  require(isinstance(g.no_repeat_ngram_size, int) and g.no_repeat_ngram_size >= 0,
          'generate.no_repeat_ngram_size', 'must be an integer >= 0 (0: no restriction)')

  f = config.finetune
  require(f.mode in FINETUNE_MODES, 'finetune.mode', f'must be one of {FINETUNE_MODES}')
  require(f.mode == 'full' or config.init_from or config.mode != 'train', 'finetune.mode',
          'frozen feature extraction keeps pretrained weights fixed, so it needs '
          '--config.init_from=<lm_jax workdir or Hugging Face directory>')
  try:
    re.compile(f.trainable)
  except re.error as e:
    require(False, 'finetune.trainable', f'is not a valid regular expression ({e})')
  p = config.peft
  require(p.method in PEFT_METHODS, 'peft.method', f'must be one of {PEFT_METHODS}')
  require(p.method == 'none' or config.init_from or config.mode != 'train', 'peft.method',
          'adapters train on top of pretrained weights, so they need '
          '--config.init_from=<lm_jax workdir or Hugging Face directory>')
  require(p.method == 'none' or f.mode == 'full', 'finetune.mode',
          "must stay 'full' with config.peft.method: the adapters already freeze the base")
  require(isinstance(p.rank, int) and p.rank > 0, 'peft.rank', 'must be a positive integer')
  require(p.alpha > 0, 'peft.alpha', 'must be positive')
  require(isinstance(p.use_rslora, bool), 'peft.use_rslora', 'must be True or False')
  require(0 <= p.dropout < 1, 'peft.dropout', 'must be in [0, 1)')
  require(p.init in LORA_INITS, 'peft.init', f'must be one of {LORA_INITS}')
  require(isinstance(p.num_virtual_tokens, int) and p.num_virtual_tokens > 0,
          'peft.num_virtual_tokens', 'must be a positive integer')
  require(isinstance(p.prefix_projection, bool), 'peft.prefix_projection',
          'must be True or False')
  require(p.prompt_init in PROMPT_INITS, 'peft.prompt_init', f'must be one of {PROMPT_INITS}')
  has_text = isinstance(p.prompt_init_text, str) and bool(p.prompt_init_text.strip())
  require(p.prompt_init != 'text' or has_text, 'peft.prompt_init_text',
          "must be the text the prompt starts as with prompt_init='text'")
  # A packed row would put one prompt in front of several examples, and only the first would
  # see it (its virtual tokens belong to the row's first segment).
  require(p.method != 'prompt' or not config.data.pack or config.mode != 'train', 'data.pack',
          "must be False with peft.method='prompt': each example needs its own prompt in front "
          'of it; add --config.data.pack=False')
  require(isinstance(p.targets, (tuple, list)) and all(isinstance(t, str) and t
                                                        for t in p.targets),
          'peft.targets', "must be a tuple of Dense layer names such as ('query', 'value'), "
          "or ('all-linear',)")
  s = config.early_stopping
  require(s.mode in EARLY_STOPPING_MODES, 'early_stopping.mode',
          f'must be one of {EARLY_STOPPING_MODES}')
  require(isinstance(s.patience, int) and s.patience >= 0, 'early_stopping.patience',
          'must be an integer >= 0 (0: keep the best checkpoint, never stop)')
  require(s.patience == 0 or s.metric, 'early_stopping.patience',
          'needs --config.early_stopping.metric, the eval metric to watch')
  e = config.eval
  require(e.num_examples is None or (isinstance(e.num_examples, int) and e.num_examples > 0),
          'eval.num_examples', 'must be a positive integer, or None for the whole split')
  require(e.checkpoint in EVAL_CHECKPOINTS, 'eval.checkpoint', f'must be one of {EVAL_CHECKPOINTS}')
  require(isinstance(e.baseline, bool), 'eval.baseline', 'must be True or False')
  require(e.decontaminate_against is None or sources.is_text_spec(e.decontaminate_against),
          'eval.decontaminate_against',
          "must name a '<dataset>:<feature>' pair, e.g. 'stdlib_docs:text', or be None")
  require(isinstance(e.decontaminate_ngram, int) and e.decontaminate_ngram > 0,
          'eval.decontaminate_ngram', 'must be a positive integer')
  from lm_jax.evaluation import metrics  # the registry owns the metric names
  try:
    metrics.check_names(tuple(e.metrics))
  except ValueError as error:
    require(False, 'eval.metrics', str(error).rstrip('.'))
  if d.task is not None:
    from lm_jax.data import tasks  # the registry owns the task names
    require(d.task in tasks.TASKS, 'data.task', f'must be one of {", ".join(tasks.TASKS)}')

  _validate_preference(config, require)

  o = config.optimizer
  require(o.name in OPTIMIZERS, 'optimizer.name', f'must be one of {OPTIMIZERS}')
  require(o.schedule in SCHEDULES, 'optimizer.schedule', f'must be one of {SCHEDULES}')
  require(o.learning_rate > 0, 'optimizer.learning_rate', 'must be positive')
  require(o.warmup_steps >= 0, 'optimizer.warmup_steps', 'must be >= 0')
  require(o.schedule != 'rsqrt' or o.warmup_steps > 0, 'optimizer.warmup_steps',
          'the rsqrt schedule decays as sqrt(warmup_steps / step), so it needs warmup_steps > 0')
  require(o.schedule not in ('cosine', 'linear') or o.warmup_steps < config.num_train_steps,
          'optimizer.warmup_steps', 'must be smaller than num_train_steps for a decaying schedule')
  require(0 <= o.end_learning_rate_fraction <= 1, 'optimizer.end_learning_rate_fraction',
          'must be in [0, 1]')
  require(o.grad_clip_norm >= 0, 'optimizer.grad_clip_norm', 'must be >= 0 (0 disables clipping)')
  require(o.weight_decay >= 0, 'optimizer.weight_decay', 'must be >= 0')


def _validate_preference(config, require) -> None:
  p = config.preference
  require(p.objective in PREFERENCE_OBJECTIVES, 'preference.objective',
          f'must be one of {PREFERENCE_OBJECTIVES}')
  if p.objective == 'none':
    return
  from lm_jax import preference  # the registry owns the scorer names
  require(p.scorer in preference.SCORERS, 'preference.scorer',
          f'is not a scorer; the scorers are {", ".join(sorted(preference.SCORERS))}')
  require(config.data.objective == 'causal_lm' and not config.data.task, 'preference.objective',
          'scores the lines of pretraining documents, so it needs '
          '--config.data.objective=causal_lm and no config.data.task')
  # Scores are violations per character: 0 means a clean line, and no line has more than a
  # handful of violations per character.
  require(0 <= p.threshold < 1, 'preference.threshold',
          'must be in [0, 1): scores are violations per character (Korbak: 0.002361 for '
          'filtering, 0 for conditional training and unlikelihood)')
  require(0 <= p.drop_control_fraction <= 1, 'preference.drop_control_fraction',
          'must be in [0, 1]')
  require(0 < p.alpha <= 1 if p.objective == 'awr' else p.alpha > 0, 'preference.alpha',
          'must be in (0, 1] for awr (the share of the weighted cross-entropy) and positive '
          'otherwise')
  require(p.beta > 0, 'preference.beta', 'must be positive')
  require(p.max_weight >= 1, 'preference.max_weight', 'must be >= 1')
  require(config.loss.label_smoothing == 0 or p.objective in ('mle', 'filtering', 'conditional'),
          'loss.label_smoothing', f'must be 0 with preference.objective={p.objective!r}, whose '
          'loss weighs the plain cross-entropy of each token')
  require(isinstance(p.eval_samples, int) and p.eval_samples >= 0 and p.eval_samples % 25 == 0,
          'preference.eval_samples', 'must be a multiple of 25 (score_max@25 is the mean of the '
          'maxima of groups of 25), or 0')
  require(isinstance(p.eval_prompts, int) and p.eval_prompts >= 0, 'preference.eval_prompts',
          'must be an integer >= 0')
  require(isinstance(p.eval_max_length, int) and p.eval_max_length > 1,
          'preference.eval_max_length', 'must be an integer > 1')
  require(p.eval_temperature > 0, 'preference.eval_temperature', 'must be positive')
  require(0 < p.eval_top_p <= 1, 'preference.eval_top_p', 'must be in (0, 1]')


def _dotted_keys(config, prefix=''):
  for key in config.keys():
    yield prefix + key
    if isinstance(config[key], ml_collections.ConfigDict):
      yield from _dotted_keys(config[key], f'{prefix}{key}.')


def unknown_key_message(config: ml_collections.ConfigDict, key: str) -> str | None:
  """Why the dotted `key` is not one of `config`'s (naming the nearest real keys), or None
  when it is."""
  section = config
  for depth, part in enumerate(key.split('.')):
    if not isinstance(section, ml_collections.ConfigDict) or part not in section:
      known = [k for k in _dotted_keys(config) if not key.startswith(k + '.')]
      near = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
      parent = '.'.join(key.split('.')[:depth])
      here = sorted(section.keys()) if isinstance(section, ml_collections.ConfigDict) else []
      return (f'Unknown config key {key!r}.'
              + (f' Did you mean {" or ".join(map(repr, near))}?' if near else '')
              + (f' Keys of {parent or "the config"}: {", ".join(here)}.' if here else ''))
    section = section[part]
  return None


def override(config: ml_collections.ConfigDict, values: dict) -> ml_collections.ConfigDict:
  """Sets dotted keys (`{'eval.num_examples': 64}`) as `--config.eval.num_examples=64` would;
  for notebooks, sweeps and tests. Returns `config`."""
  for key, value in values.items():
    message = unknown_key_message(config, key)
    if message:
      raise KeyError(message)
    *sections, last = key.split('.')
    target = config
    for part in sections:
      target = target[part]
    target[last] = value
  return config


def load_config(spec: str) -> ml_collections.ConfigDict:
  """`'configs/t5_small.py:tiny'` -> that file's `get_config('tiny')`, for notebooks and tests."""
  import importlib.util
  path, _, variant = spec.partition(':')
  module_spec = importlib.util.spec_from_file_location('_lm_jax_config', path)
  if module_spec is None:
    raise FileNotFoundError(f'No config file at {path!r}.')
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(variant or None)
