"""Fixed-shape batches of a task's examples for each model family, with the contract of
lm_jax/data/batch_iterator.py: an order reshuffled per epoch from (seed, epoch), or one pass
in order padded with all-zero rows, and a JSON state that resumes exactly."""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from lm_jax import families
from lm_jax.data import batch_iterator
from lm_jax.data import packing
from lm_jax.data.objectives import prefix_lm
from lm_jax.data.tasks import task as task_lib


def decoder_only_prompt(inputs, inputs_length: int, eos_id: int) -> list[int]:
  """The prefix of a decoder-only row: the inputs trimmed to `inputs_length - 1`, then EOS.

  The EOS separates the prompt from the answer (seqio's prefix-LM tasks append it to the
  inputs) and is kept even when the inputs are trimmed, so that decoding from this prompt
  starts the answer exactly where training did.
  """
  return [int(t) for t in inputs][:inputs_length - 1] + [eos_id]


def decoder_only_row(inputs, targets, inputs_length: int, targets_length: int,
                     eos_id: int, pad_id: int = 0) -> dict[str, np.ndarray]:
  """A prefix-LM row (seqio's `PrefixLMFeatureConverter` layout) of `decoder_only_prompt`
  followed by targets + EOS trimmed to `targets_length`: full attention over the prompt, loss
  on the targets only; at most `inputs_length + targets_length` positions. `pad_id` is the
  BOS (packing.py)."""
  prompt = decoder_only_prompt(inputs, inputs_length, eos_id)
  row = prefix_lm.prefix_lm_row(prompt + [int(t) for t in targets], len(prompt), eos_id,
                                pad_id)
  # Trimmed after `prefix_lm_row` appended EOS: an over-long target loses it, as in T5.
  return {key: value[:len(prompt) + targets_length] for key, value in row.items()}


def encoder_classifier_row(inputs, label: int, inputs_length: int,
                           eos_id: int) -> dict[str, np.ndarray]:
  """inputs + EOS trimmed to `inputs_length` (as the encoder-decoder's encoder), the label's
  index and weight 1."""
  return {
      'encoder_input_tokens': np.append(np.asarray(inputs, np.int32), eos_id)[:inputs_length],
      'label': np.int32(label),
      'label_weight': np.float32(1.0),
  }


def _decoder_only_shapes(batch_size, inputs_length, targets_length):
  length = inputs_length + targets_length
  shapes = packing.packed_decoder_shapes(batch_size, length)
  shapes['decoder_causal_attention'] = ((batch_size, length), packing.INT32)
  return shapes


def _encoder_classifier_shapes(batch_size, inputs_length, targets_length):
  del targets_length  # the label is one class index
  return {
      'encoder_input_tokens': ((batch_size, inputs_length), packing.INT32),
      'label': ((batch_size,), packing.INT32),
      'label_weight': ((batch_size,), packing.FLOAT32),
  }


def _label_index(task: task_lib.Task, targets: str) -> int:
  if targets not in task.labels:
    raise ValueError(f'Task {task.name!r} made the target {targets!r}, which is not one of its '
                     f'labels {task.labels}.')
  return task.labels.index(targets)


class RowFormat(NamedTuple):
  """How a family's task rows are made (the family's `task_rows` names one): the batch shapes,
  the unpadded row of (task, example, tokenizer, inputs_length, targets_length), and for
  formats whose training rows pack several examples, how (`Packing`)."""
  shapes: Callable[[int, int, int], batch_iterator.BatchShapes]
  row: Callable[..., dict[str, np.ndarray]]
  packing: 'Packing | None' = None


class Packing(NamedTuple):
  """How training rows pack several examples: the row keys whose lengths must fit (each into
  its batch array's width), how a row's examples are laid end to end, and the shapes of the
  packed batches."""
  sides: tuple[str, ...]
  row: Callable[[list[dict[str, np.ndarray]]], dict[str, np.ndarray]]
  shapes: Callable[[int, int, int], batch_iterator.BatchShapes]


def _encoder_decoder_example(task, example, tokenizer, inputs_length, targets_length):
  # T5: inputs + EOS and targets + EOS, each trimmed to its length (seqio's `trim_and_pad`).
  del task
  return packing.encoder_decoder_row(tokenizer.encode(example.inputs),
                                     tokenizer.encode(example.targets), inputs_length,
                                     targets_length, tokenizer.eos_id, tokenizer.pad_id)


def _decoder_only_example(task, example, tokenizer, inputs_length, targets_length):
  del task
  return decoder_only_row(tokenizer.encode(example.inputs), tokenizer.encode(example.targets),
                          inputs_length, targets_length, tokenizer.eos_id, tokenizer.pad_id)


def _encoder_classifier_example(task, example, tokenizer, inputs_length, targets_length):
  del targets_length
  return encoder_classifier_row(tokenizer.encode(example.inputs),
                                _label_index(task, example.targets), inputs_length,
                                tokenizer.eos_id)


ROW_FORMATS = {
    'encoder_decoder': RowFormat(
        packing.encoder_decoder_shapes, _encoder_decoder_example,
        Packing(('encoder_input_tokens', 'decoder_target_tokens'),
                packing.packed_encoder_decoder_row, packing.packed_encoder_decoder_shapes)),
    'prefix_lm': RowFormat(
        _decoder_only_shapes, _decoder_only_example,
        # its rows carry segment ids already
        Packing(('decoder_target_tokens',), packing.packed_prefix_lm_row, _decoder_only_shapes)),
    'classifier': RowFormat(_encoder_classifier_shapes, _encoder_classifier_example),
}


def _row_format(family: families.Family) -> RowFormat:
  return ROW_FORMATS[family.task_rows]


def check_family(family: str, task: task_lib.Task) -> None:
  """Fails when `task` cannot feed `family`: a classification head needs class labels."""
  if families.for_task(family).task_needs_labels and task.labels is None:
    with_labels = [t.name for t in task_lib.TASKS.values() if t.labels is not None]
    raise ValueError(
        f'The classification head needs a classification task, but config.data.task='
        f'{task.name!r} has no labels; tasks with labels: {", ".join(with_labels)}.')


def _lengths(family: str, data_config) -> tuple[int, int]:
  for key in families.for_task(family).lengths:
    if int(data_config[key]) < 1:
      raise ValueError(f'config.data.{key}={data_config[key]} is too small for a task on a '
                       f'{family} model: set --config.data.{key} to at least 1.')
  return int(data_config.inputs_length), int(data_config.targets_length)


def batch_shapes(family: str, data_config, batch_size: int) -> batch_iterator.BatchShapes:
  """Every key of `family`'s task batches with its (shape, dtype).

  encoder_decoder: `encoder_input_tokens` (B, inputs_length); `decoder_input_tokens`,
  `decoder_target_tokens`, `decoder_loss_weights` (B, targets_length).
  decoder_only: prefix-LM rows of (B, inputs_length + targets_length): those keys plus
  `decoder_causal_attention`, `decoder_segment_ids`, `decoder_positions`.
  encoder_classifier: `encoder_input_tokens` (B, inputs_length), `label` (B,) int32,
  `label_weight` (B,) float32 (0 on padding rows).
  """
  return _row_format(families.for_task(family)).shapes(batch_size,
                                                       *_lengths(family, data_config))


class TaskIterator:
  """`next(it)`: a dict of `batch_shapes(family, data_config, batch_size)` arrays of the
  examples of `task`, one example per row.

  With `shuffle` the examples of each epoch are read in a permutation seeded by
  `(seed, epoch)`, else in order. With `repeat=False` one pass is made and its last batch is
  filled with padding rows (pad tokens, loss and label weight 0), so every batch has the same
  shape; then StopIteration. The state is (epoch, index within the epoch's order).

  Training batches (`repeat` with `data_config.pack`) of an encoder-decoder or a decoder-only
  model hold several examples a row, as T5X fine-tunes: each example goes to the first row of
  the batch where it still fits (its inputs and its targets both, for an encoder-decoder), and
  the batch is done when one fits nowhere (it opens the next batch). Segment ids and positions
  keep the examples apart (`packing.packed_encoder_decoder_shapes`; decoder-only rows have them
  already). Evaluation and classifier batches keep one example a row.
  """

  def __init__(self, task: task_lib.Task, examples: Sequence[task_lib.Example], tokenizer,
               data_config, batch_size: int, seed: int, *, family: str,
               shuffle: bool = True, repeat: bool = True):
    check_family(family, task)
    if batch_size <= 0:
      raise ValueError(f'batch_size must be positive, got {batch_size}.')
    if seed < 0:
      raise ValueError(f'seed must be non-negative, got {seed}.')
    if len(examples) == 0:
      raise ValueError(f'Task {task.name!r} has no examples in {examples!r}.')
    self.task = task
    self.examples = examples
    self.tokenizer = tokenizer
    self.family = family
    self.batch_size = batch_size
    self.seed = seed
    self.shuffle = shuffle
    self.repeat = repeat
    self.inputs_length, self.targets_length = _lengths(family, data_config)
    row_format = _row_format(families.for_task(family))
    self._packing = row_format.packing if data_config.pack and repeat else None
    self.pack = self._packing is not None
    self.shapes = (self._packing.shapes(batch_size, self.inputs_length, self.targets_length)
                   if self.pack else batch_shapes(family, data_config, batch_size))
    self._row = row_format.row
    self._order_epoch, self._order = None, None
    self._epoch, self._index = 0, 0
    self._pending = None  # (position, row) of the example that ended the last packed batch

  @property
  def epoch(self) -> int:
    return self._epoch

  def get_state(self) -> dict:
    """The position after the last batch returned, as JSON-serialisable values."""
    return {'epoch': self._epoch, 'index': self._index, 'num_examples': len(self.examples)}

  def set_state(self, state: dict) -> None:
    if 'index' not in state:
      raise ValueError(f'{state} is not the state of a task iterator (a checkpoint of '
                       'pretraining?): it has no example index.')
    if int(state['num_examples']) != len(self.examples):
      raise ValueError(f'The state is of a split of {state["num_examples"]} examples, but '
                       f'task {self.task.name!r} has {len(self.examples)} here.')
    self._epoch, self._index = int(state['epoch']), int(state['index'])
    self._pending = None

  def _order_of(self, epoch: int) -> np.ndarray:
    if self._order_epoch != epoch:
      n = len(self.examples)
      self._order = (np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle
                     else np.arange(n))
      self._order_epoch = epoch
    return self._order

  def _peek_position(self) -> tuple[int, int] | None:
    """(epoch, index) of the next example, or None at the end of a single pass."""
    if self._index < len(self.examples):
      return self._epoch, self._index
    return (self._epoch + 1, 0) if self.repeat else None

  def _example_at(self, position: tuple[int, int]) -> task_lib.Example:
    epoch, index = position
    return self.examples[int(self._order_of(epoch)[index])]

  def _advance_past(self, position: tuple[int, int]) -> None:
    self._epoch, self._index = position[0], position[1] + 1

  def _next_example(self) -> task_lib.Example | None:
    position = self._peek_position()
    if position is None:
      return None
    self._advance_past(position)
    return self._example_at(position)

  def _row_at(self, position: tuple[int, int]) -> dict[str, np.ndarray]:
    return self._row(self.task, self._example_at(position), self.tokenizer, self.inputs_length,
                     self.targets_length)

  def _next_packed_batch(self) -> dict[str, np.ndarray]:
    sides, pack_row, _ = self._packing
    capacity = tuple(self.shapes[side][0][1] for side in sides)  # each side's row width
    rows, room = [], []  # the examples of each row; its free positions on each side
    pending, self._pending = self._pending, None
    while True:
      position = self._peek_position()
      row = pending[1] if pending and pending[0] == position else self._row_at(position)
      pending = None
      need = tuple(len(row[side]) for side in sides)
      slot = next((i for i, free in enumerate(room)
                   if all(n <= f for n, f in zip(need, free))), None)
      if slot is None:
        if len(rows) == self.batch_size:
          self._pending = (position, row)
          break
        rows.append([])
        room.append(capacity)
        slot = len(rows) - 1
      rows[slot].append(row)
      room[slot] = tuple(f - n for f, n in zip(room[slot], need))
      self._advance_past(position)
    return packing.pad_rows([pack_row(r) for r in rows], self.shapes, self.tokenizer.pad_id)

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    if self.pack:
      return self._next_packed_batch()
    rows = []
    while len(rows) < self.batch_size:
      example = self._next_example()
      if example is None:
        break
      rows.append(self._row(self.task, example, self.tokenizer, self.inputs_length,
                            self.targets_length))
    if not rows:
      raise StopIteration
    return packing.pad_rows(rows, self.shapes, self.tokenizer.pad_id)
