"""The iterator machinery every objective shares: examples made one at a time from a
TokenStream, written into fixed-shape numpy batches, resumable exactly from a JSON state."""

from collections.abc import Sequence

import numpy as np

from lm_jax.data import packing
from lm_jax.data import token_stream

# Separates the per-example rng streams from the permutation's `[seed, epoch]`:
# numpy's SeedSequence pads entropy with zeros, so `[s, e]` and `[s, e, 0]` coincide.
_EXAMPLE_STREAM = 1

BatchShapes = dict[str, tuple[tuple[int, ...], np.dtype]]


class BatchIterator:
  """Base of the objective iterators: `next(it)` is a dict of `batch_shapes(...)` arrays.

  A subclass sets `append_eos` (whether its token stream ends each document with EOS),
  checks its config values before calling `__init__`, and implements
  `batch_shapes(data_config, batch_size)` and `_next_example()`: one example's unpadded
  rows (a dict of 1-D arrays keyed like the batch) from `self.stream`, or None once a
  single pass is exhausted. An example that needs randomness draws it from
  `self._example_rng()`, seeded by (seed, epoch, n) for the n-th example since the start
  of training, so a resumed iterator repeats it exactly.

  With `repeat=False` the last batch is filled with padding rows (pad tokens, loss
  weight 0) so that every batch has the same shape and the eval step compiles once.
  """

  append_eos = False

  def __init__(self, source: Sequence[str], tokenizer, data_config, batch_size: int, seed: int,
               shuffle: bool = True, repeat: bool = True):
    if batch_size <= 0:
      raise ValueError(f'batch_size must be positive, got {batch_size}.')
    self.source = source
    self.tokenizer = tokenizer
    self.batch_size = batch_size
    self.seed = seed
    self.shuffle = shuffle
    self.repeat = repeat
    self.shapes = self.batch_shapes(data_config, batch_size)
    self.stream = token_stream.TokenStream(source, tokenizer, seed, shuffle=shuffle,
                                           repeat=repeat, append_eos=self.append_eos)
    self._chunk_index = 0

  @classmethod
  def batch_shapes(cls, data_config, batch_size: int) -> BatchShapes:
    """Every key of the batch with its (shape, dtype)."""
    raise NotImplementedError

  @classmethod
  def check_lengths(cls, data_config) -> int:
    """The row length this objective makes from `data_config`, or a ValueError naming the key
    to change. The one home of the objective's length rule: config validation calls it at
    start-up (before any data or tokenizer work), the iterator when built."""
    raise NotImplementedError

  def _next_example(self) -> dict[str, np.ndarray] | None:
    raise NotImplementedError

  def get_state(self) -> dict:
    """The position after the last batch returned, as JSON-serialisable values."""
    # `chunk_index` counts examples made since the start of training (the name predates
    # the other objectives; checkpoints of span corruption runs hold it).
    return {**self.stream.get_state(), 'chunk_index': self._chunk_index}

  def set_state(self, state: dict) -> None:
    self.stream.set_state(state)
    self._chunk_index = int(state['chunk_index'])

  def _example_rng(self) -> np.random.Generator:
    """The rng of the example being made; call it after reading the example's tokens, as
    they may start a new epoch."""
    return np.random.default_rng([self.seed, self.stream.epoch, self._chunk_index,
                                  _EXAMPLE_STREAM])

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    examples = []
    while len(examples) < self.batch_size:
      example = self._next_example()
      if example is None:
        break
      self._chunk_index += 1
      examples.append(example)
    if not examples:
      raise StopIteration
    return packing.pad_rows(examples, self.shapes, self.tokenizer.pad_id)


def positive_length(data_config, key: str, objective: str, minimum: int = 1) -> int:
  """`data_config.<key>` as an int, with an error naming the key if it is below `minimum`."""
  value = int(data_config[key])
  if value < minimum:
    raise ValueError(
        f'config.data.{key}={value} is too small for config.data.objective={objective!r}: '
        f'set --config.data.{key} to at least {minimum}.')
  return value
