"""What each model family reads from a batch and which batch keys its loss scores.

The one place that knows the T5X batch names per family, so the train and eval steps, the
benchmarks and the trainer's start-up checks treat GPT, BERT and encoder-decoder models alike.
"""
import dataclasses

import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class FamilyIO:
  inputs: tuple[str, ...]    # positional arguments of model.apply, in order
  optional: tuple[str, ...]  # keyword arguments, passed when the batch has them
  targets: str
  weights: str


FAMILIES = {
    'encoder_decoder': FamilyIO(
        inputs=('encoder_input_tokens', 'decoder_input_tokens'),
        optional=('encoder_segment_ids', 'decoder_segment_ids', 'encoder_positions',
                  'decoder_positions'),
        targets='decoder_target_tokens', weights='decoder_loss_weights'),
    'decoder_only': FamilyIO(
        inputs=('decoder_input_tokens',),
        optional=('decoder_segment_ids', 'decoder_positions', 'decoder_causal_attention'),
        targets='decoder_target_tokens', weights='decoder_loss_weights'),
    'encoder_only': FamilyIO(
        inputs=('encoder_input_tokens',),
        optional=('encoder_segment_ids', 'encoder_positions', 'encoder_token_type_ids'),
        targets='encoder_target_tokens', weights='encoder_loss_weights'),
    # One label per row: logits (B, num_classes) against targets (B,), which the token-level
    # cross-entropy scores unchanged (it works on any leading shape).
    'encoder_classifier': FamilyIO(
        inputs=('encoder_input_tokens',),
        optional=('encoder_segment_ids', 'encoder_positions', 'encoder_token_type_ids'),
        targets='label', weights='label_weight'),
}


def family_io(model) -> FamilyIO:
  family = getattr(model, 'family', None)
  if family not in FAMILIES:
    raise ValueError(f'{type(model).__name__} declares family {family!r}; a model class must set '
                     f'`family` to one of {sorted(FAMILIES)}.')
  return FAMILIES[family]


def check_batch_keys(model, batch_keys, objective: str, task: str | None = None) -> None:
  """Fails at start-up when the data objective (or task, when set) does not feed this model
  family."""
  io = family_io(model)
  missing = [k for k in (*io.inputs, io.targets, io.weights) if k not in batch_keys]
  if missing:
    source = (f'config.data.task={task!r}' if task else f'config.data.objective={objective!r}')
    raise ValueError(
        f'{source} makes batches without {missing}, which {type(model).__name__} '
        f'({model.family} model) needs. Objectives per family: '
        "encoder_decoder: 'span_corruption'; decoder_only: 'causal_lm' or 'prefix_lm'; "
        "encoder_only: 'mlm'. encoder_classifier models take classification tasks only "
        "(config.data.task, e.g. 'wordnet_categories'), not a pretraining objective.")


def model_arguments(model, batch) -> tuple[tuple, dict]:
  io = family_io(model)
  return (tuple(batch[k] for k in io.inputs),
          {k: batch[k] for k in io.optional if k in batch})


def apply_model(model, params, batch, rngs):
  """Logits (B, T, V) of `model` on `batch`, (B, num_classes) for a classifier; dropout on
  when `rngs` has a 'dropout' key."""
  args, kwargs = model_arguments(model, batch)
  return model.apply({'params': params}, *args, **kwargs, rngs=rngs)


def dummy_inputs(model, batch_shapes: dict) -> dict:
  """Zero arrays of the batch's model-input shapes and dtypes, for `model.init`."""
  io = family_io(model)
  return {k: jnp.zeros(shape, dtype) for k, (shape, dtype) in batch_shapes.items()
          if k in io.inputs or k in io.optional}


def targets_and_weights(model, batch):
  io = family_io(model)
  return batch[io.targets], batch[io.weights]


def token_count(model, batch):
  """Non-padding tokens the model reads. Segment ids mark padding when the batch has them;
  otherwise id 0 does, counted on decoder targets since decoder inputs start with 0 as BOS.
  A classifier counts its encoder tokens, not its labels."""
  total = 0
  for key in family_io(model).inputs:
    stack = key.split('_')[0]  # 'encoder' or 'decoder'
    if f'{stack}_segment_ids' in batch:
      total += jnp.sum(batch[f'{stack}_segment_ids'] > 0)
    elif stack == 'decoder':
      total += jnp.sum(batch['decoder_target_tokens'] != 0)
    else:
      total += jnp.sum(batch[key] != 0)
  return total
