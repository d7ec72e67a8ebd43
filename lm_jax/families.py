"""The model families: one declaration each of what a family reads from a batch, which data feeds
it, how it is prompted to generate, and what its lengths mean. Every other module asks the
family instead of branching on its name, so a new family (or head) is one declaration here.

A model class names its family in a `family` class attribute; `of(model)` returns the
declaration. The formats a family points at (`task_rows`, `prompt`, `samples`) are names that
the layer owning them looks up in its own registry: lm_jax/data/tasks/task_iterator.py (task
rows), lm_jax/generation (prompts) and lm_jax/evaluation/samples.py (samples).
"""
import dataclasses

import jax.numpy as jnp

# How generation reads a prompt (lm_jax/generation/decoding.py and prompts.py).
ENCODER_PROMPT = 'encoder_inputs'  # text + EOS is the encoder input; decoding starts from id 0
DECODER_PROMPT = 'decoder_prefix'  # BOS + text is continued by the decoder


@dataclasses.dataclass(frozen=True)
class Family:
  name: str
  inputs: tuple[str, ...]      # batch keys passed positionally to model.apply, in order
  optional: tuple[str, ...]    # batch keys passed as keywords when the batch has them
  targets: str                 # the batch key the loss scores ...
  weights: str                 # ... with these weights
  objectives: tuple[str, ...]  # pretraining objectives (config.data.objective) that feed it
  # The config.data lengths and what each means for this family.
  lengths: dict[str, str]
  # How a task example becomes a training row (a format of task_iterator.ROW_FORMATS); None:
  # the family takes no downstream task.
  task_rows: str | None = None
  task_needs_labels: bool = False  # only classification tasks (class labels) feed it
  predicts_classes: bool = False   # task predictions are argmax classes, not decoded text
  prompt: str | None = None        # ENCODER_PROMPT or DECODER_PROMPT; None: does not generate
  samples: str = ''                # what samples.jsonl shows (evaluation/samples.py SAMPLERS)
  # The model config fields holding each stack's depth (None: no such stack), for FLOP counts.
  encoder_layers: str | None = None
  decoder_layers: str | None = None
  # The Dense layers LoRA adapts by default: peft's defaults for the family's HF models (T5 q,v;
  # GPT-2's fused c_attn, which is lm_jax's query, key and value; BERT query, value).
  lora_targets: tuple[str, ...] = ('query', 'value')
  # The layers that produce the logits, which peft's 'all-linear' leaves out.
  output_layers: tuple[str, ...] = ('lm_head',)

  @property
  def stacks(self) -> tuple[str, ...]:
    return tuple(s for s, field in (('encoder', self.encoder_layers),
                                    ('decoder', self.decoder_layers)) if field)

  def tokens_per_example(self, inputs_length: int, targets_length: int) -> int:
    """The tokens one example puts through the model in pretraining."""
    return ((inputs_length if self.encoder_layers else 0)
            + (targets_length if self.decoder_layers else 0))


_ENCODER_OPTIONAL = ('encoder_segment_ids', 'encoder_positions', 'encoder_token_type_ids')

FAMILIES = {f.name: f for f in (
    Family(
        'encoder_decoder',
        inputs=('encoder_input_tokens', 'decoder_input_tokens'),
        optional=('encoder_segment_ids', 'decoder_segment_ids', 'encoder_positions',
                  'decoder_positions'),
        targets='decoder_target_tokens', weights='decoder_loss_weights',
        objectives=('span_corruption',),
        lengths={'inputs_length': 'encoder rows', 'targets_length': 'decoder rows'},
        task_rows='encoder_decoder', prompt=ENCODER_PROMPT,
        samples='decoded_targets', encoder_layers='num_encoder_layers',
        decoder_layers='num_decoder_layers'),
    Family(
        'decoder_only',
        inputs=('decoder_input_tokens',),
        optional=('decoder_segment_ids', 'decoder_positions', 'decoder_causal_attention'),
        targets='decoder_target_tokens', weights='decoder_loss_weights',
        objectives=('causal_lm', 'prefix_lm'),
        lengths={'targets_length': 'the context: pretraining rows, and a task row\'s answer',
                 'inputs_length': 'a task row\'s prompt (its rows hold both)'},
        task_rows='prefix_lm', prompt=DECODER_PROMPT, samples='continuation',
        decoder_layers='num_layers', lora_targets=('query', 'key', 'value')),
    Family(
        'encoder_only',
        inputs=('encoder_input_tokens',), optional=_ENCODER_OPTIONAL,
        targets='encoder_target_tokens', weights='encoder_loss_weights',
        objectives=('mlm',),
        lengths={'inputs_length': 'encoder rows'},
        samples='masked_tokens', encoder_layers='num_layers', output_layers=()),
    # One label per row: logits (B, num_classes) against targets (B,), which the token-level
    # cross-entropy scores unchanged (it works on any leading shape).
    Family(
        'encoder_classifier',
        inputs=('encoder_input_tokens',), optional=_ENCODER_OPTIONAL,
        targets='label', weights='label_weight',
        objectives=(),
        lengths={'inputs_length': 'encoder rows (the label is one class index)'},
        task_rows='classifier', task_needs_labels=True, predicts_classes=True,
        samples='classes', encoder_layers='num_layers', output_layers=('classifier',)),
)}
NAMES = tuple(FAMILIES)
TASK_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.task_rows)


def get(name: str) -> Family:
  if name not in FAMILIES:
    raise ValueError(f'Unknown model family {name!r}; a model class must set `family` to one '
                     f'of {", ".join(NAMES)} (lm_jax/families.py).')
  return FAMILIES[name]


def of(model) -> Family:
  """The family `model` (a module or its class) declares."""
  family = getattr(model, 'family', None)
  if family not in FAMILIES:
    raise ValueError(f'{getattr(model, "__name__", type(model).__name__)} declares family '
                     f'{family!r}; a model class must set `family` to one of {sorted(FAMILIES)}.')
  return FAMILIES[family]


def for_task(name: str) -> Family:
  """The family `name`, which must take downstream tasks."""
  family = get(name) if name in FAMILIES else None
  if family is None or family.task_rows is None:
    raise ValueError(f'Tasks feed the model families {", ".join(TASK_FAMILIES)}; got {name!r} '
                     '(the model class\'s `family`).')
  return family


def generating(model) -> Family:
  """The family of `model`, which must generate tokens."""
  family = of(model)
  if family.prompt is None:
    generators = [name for name, f in FAMILIES.items() if f.prompt]
    raise ValueError(f'{type(model).__name__} is a {family.name!r} model, which scores tokens '
                     f'but does not generate them; generation needs a model of family '
                     f'{tuple(generators)}.')
  return family


# What each model family reads from a batch and which batch keys its loss scores: the train and
# eval steps, task evaluation, the benchmarks and the trainer's start-up checks go through these.

def check_batch_keys(model, batch_keys, objective: str, task: str | None = None) -> None:
  """Fails at start-up when the data objective (or task, when set) does not feed this model
  family."""
  family = of(model)
  missing = [k for k in (*family.inputs, family.targets, family.weights) if k not in batch_keys]
  if missing:
    source = (f'config.data.task={task!r}' if task else f'config.data.objective={objective!r}')
    feeds = '; '.join(
        f'{f.name}: {" or ".join(map(repr, f.objectives))}' for f in FAMILIES.values()
        if f.objectives)
    only_tasks = [f.name for f in FAMILIES.values() if not f.objectives]
    raise ValueError(
        f'{source} makes batches without {missing}, which {type(model).__name__} '
        f'({family.name} model) needs. Objectives per family: {feeds}. '
        f'{" and ".join(only_tasks)} models take classification tasks only '
        "(config.data.task, e.g. 'wordnet_categories'), not a pretraining objective.")


def model_arguments(model, batch) -> tuple[tuple, dict]:
  family = of(model)
  return (tuple(batch[k] for k in family.inputs),
          {k: batch[k] for k in family.optional if k in batch})


def apply_model(model, params, batch, rngs):
  """Logits (B, T, V) of `model` on `batch`, (B, num_classes) for a classifier; dropout on
  when `rngs` has a 'dropout' key."""
  args, kwargs = model_arguments(model, batch)
  return model.apply({'params': params}, *args, **kwargs, rngs=rngs)


def dummy_inputs(model, batch_shapes: dict) -> dict:
  """Zero arrays of the batch's model-input shapes and dtypes, for `model.init`."""
  family = of(model)
  return {k: jnp.zeros(shape, dtype) for k, (shape, dtype) in batch_shapes.items()
          if k in family.inputs or k in family.optional}


def targets_and_weights(model, batch):
  family = of(model)
  return batch[family.targets], batch[family.weights]


def token_count(model, batch):
  """Non-padding tokens the model reads. Segment ids mark padding when the batch has them;
  otherwise the decoder's loss weights do (every unpacked target is scored), and the encoder's
  pad id: the model's `pad_token_id` where it masks by id, else T5's 0. A classifier counts its
  encoder tokens, not its labels."""
  total = 0
  for key in of(model).inputs:
    stack = key.split('_')[0]  # 'encoder' or 'decoder'
    if f'{stack}_segment_ids' in batch:
      total += jnp.sum(batch[f'{stack}_segment_ids'] > 0)
    elif stack == 'decoder':
      total += jnp.sum(batch['decoder_loss_weights'] > 0)
    else:
      total += jnp.sum(batch[key] != getattr(model.config, 'pad_token_id', 0))
  return total
