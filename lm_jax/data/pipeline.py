"""The span-corruption input pipeline: documents -> token stream -> corrupted chunks
-> padded T5X batch dicts, resumable exactly from a JSON-serialisable state."""

import itertools
from collections.abc import Sequence

import numpy as np

from lm_jax.data import sources
from lm_jax.data import span_corruption
from lm_jax.data import tokenizer as tokenizer_lib

# Training documents passed to the tokenizer trainer (it caps lines itself too).
TOKENIZER_TRAIN_MAX_DOCS = 1_000_000
# Separates the span-corruption rng stream from the permutation's `[seed, epoch]`:
# numpy's SeedSequence pads entropy with zeros, so `[s, e]` and `[s, e, 0]` coincide.
_CORRUPTION_STREAM = 1


def _trim_and_pad(ids: np.ndarray, length: int) -> np.ndarray:
  out = np.zeros(length, np.int32)
  ids = ids[:length]
  out[:len(ids)] = ids
  return out


def batch_from_examples(examples: list[tuple[np.ndarray, np.ndarray]], inputs_length: int,
                        targets_length: int, eos_id: int) -> dict[str, np.ndarray]:
  """T5X batch dict from (inputs, targets) pairs without EOS.

  EOS is appended before trimming (seqio `trim_and_pad`), so an over-long sequence
  loses its EOS. `decoder_input_tokens` is the targets shifted right with 0 first
  (T5 starts decoding from the pad id).
  """
  encoder = np.zeros((len(examples), inputs_length), np.int32)
  targets = np.zeros((len(examples), targets_length), np.int32)
  for row, (inputs, target) in enumerate(examples):
    encoder[row] = _trim_and_pad(np.append(np.asarray(inputs, np.int32), eos_id), inputs_length)
    targets[row] = _trim_and_pad(np.append(np.asarray(target, np.int32), eos_id), targets_length)
  decoder_inputs = np.zeros_like(targets)
  decoder_inputs[:, 1:] = targets[:, :-1]
  return {
      'encoder_input_tokens': encoder,  # (B, inputs_length)
      'decoder_input_tokens': decoder_inputs,  # (B, targets_length)
      'decoder_target_tokens': targets,  # (B, targets_length)
      'decoder_loss_weights': (targets != 0).astype(np.float32),
  }


class SpanCorruptionIterator:
  """Batches of span-corrupted chunks of the concatenated documents of `source`.

  Each epoch reads the documents in a permutation seeded by `(seed, epoch)`,
  concatenates their tokens without separators (as T5's `reduce_concat_tokens`),
  cuts the stream into chunks of `raw_tokens_length` and corrupts the n-th
  chunk (counted from the start of training) with an rng seeded by `(seed, epoch, n)`. Tokens left over at the end of an epoch
  carry into the next one. With `repeat=False` there is one pass: the leftover tokens
  form a last, shorter chunk and the last batch is filled with all-zero rows.
  """

  def __init__(self, source: Sequence[str], tokenizer: tokenizer_lib.Tokenizer, data_config,
               batch_size: int, seed: int, shuffle: bool = True, repeat: bool = True):
    self.inputs_length = int(data_config.inputs_length)
    self.targets_length = int(data_config.targets_length)
    self.noise_density = float(data_config.noise_density)
    self.mean_noise_span_length = float(data_config.mean_noise_span_length)
    if self.inputs_length <= 0 or self.targets_length <= 0:
      raise ValueError(
          'config.data.inputs_length and config.data.targets_length must be positive, got '
          f'{self.inputs_length} and {self.targets_length}.')
    if not 0.0 < self.noise_density < 1.0:
      raise ValueError(f'config.data.noise_density must be in (0, 1), got {self.noise_density}.')
    if self.mean_noise_span_length < 1.0:
      raise ValueError('config.data.mean_noise_span_length must be >= 1, got '
                       f'{self.mean_noise_span_length}.')
    if batch_size <= 0:
      raise ValueError(f'batch_size must be positive, got {batch_size}.')
    if seed < 0:
      raise ValueError(f'seed must be non-negative, got {seed}.')
    if len(source) == 0:
      raise ValueError(f'The text source {source!r} is empty.')
    self.raw_tokens_length, needed_targets = span_corruption.span_corruption_lengths(
        self.inputs_length, self.noise_density, self.mean_noise_span_length)
    if self.targets_length < needed_targets:
      raise ValueError(
          f'config.data.targets_length={self.targets_length} is too short: span corruption of '
          f'inputs_length={self.inputs_length} at noise_density={self.noise_density} makes '
          f'targets of {needed_targets} tokens (with EOS); set --config.data.targets_length='
          f'{needed_targets}.')
    sentinels = span_corruption.num_noise_spans(
        self.raw_tokens_length, self.noise_density, self.mean_noise_span_length)
    if sentinels > tokenizer.num_extra_ids:
      raise ValueError(
          f'A chunk of {self.raw_tokens_length} tokens (config.data.inputs_length='
          f'{self.inputs_length}) needs {sentinels} sentinels but the tokenizer has '
          f'config.data.num_extra_ids={tokenizer.num_extra_ids}.')
    self.source = source
    self.tokenizer = tokenizer
    self.batch_size = batch_size
    self.seed = seed
    self.shuffle = shuffle
    self.repeat = repeat
    self._order_epoch, self._order = None, None
    self.set_state({'epoch': 0, 'doc_index': 0, 'carry_tokens': [], 'chunk_index': 0})

  def get_state(self) -> dict:
    """The position after the last batch returned, as JSON-serialisable values."""
    return {
        'epoch': self._epoch,
        'doc_index': self._doc_index,
        'carry_tokens': [int(t) for t in self._carry],
        'chunk_index': self._chunk_index,
    }

  def set_state(self, state: dict) -> None:
    self._epoch = int(state['epoch'])
    self._doc_index = int(state['doc_index'])
    self._carry = [int(t) for t in state['carry_tokens']]
    self._chunk_index = int(state['chunk_index'])

  def _document_order(self, epoch: int) -> np.ndarray:
    if self._order_epoch != epoch:
      if self.shuffle:
        self._order = np.random.default_rng([self.seed, epoch]).permutation(len(self.source))
      else:
        self._order = np.arange(len(self.source))
      self._order_epoch = epoch
    return self._order

  def _next_chunk(self) -> list[int] | None:
    """The next raw chunk, or None once a non-repeating pass is exhausted."""
    while len(self._carry) < self.raw_tokens_length:
      if self._doc_index == len(self.source):
        if not self.repeat:
          chunk, self._carry = self._carry, []
          return chunk or None
        self._epoch += 1
        self._doc_index = 0
      doc = int(self._document_order(self._epoch)[self._doc_index])
      # T5's span_corruption concatenates documents with no separator (reduce_concat_tokens);
      # an EOS inside the inputs would also cut every decoded input at the first boundary.
      self._carry.extend(self.tokenizer.encode(self.source[doc]))
      self._doc_index += 1
    chunk = self._carry[:self.raw_tokens_length]
    del self._carry[:self.raw_tokens_length]
    return chunk

  def _corrupt(self, chunk: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([self.seed, self._epoch, self._chunk_index, _CORRUPTION_STREAM])
    self._chunk_index += 1
    return span_corruption.span_corrupt(
        chunk, rng, noise_density=self.noise_density,
        mean_noise_span_length=self.mean_noise_span_length,
        sentinel_id=self.tokenizer.sentinel_id(0))

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    examples = []
    while len(examples) < self.batch_size:
      chunk = self._next_chunk()
      if chunk is None:
        break
      examples.append(self._corrupt(chunk))
    if not examples:
      raise StopIteration
    batch = batch_from_examples(examples, self.inputs_length, self.targets_length,
                                self.tokenizer.eos_id)
    # The last batch of a single pass is padded with all-zero rows (loss weight 0) so
    # that every batch has the same shape and the eval step compiles once.
    missing = self.batch_size - len(examples)
    return {k: np.pad(v, [(0, missing), (0, 0)]) for k, v in batch.items()}


def load_tokenizer_for(data_config) -> tokenizer_lib.Tokenizer:
  """The configured tokenizer, trained on (a bounded prefix of) the train split if needed."""
  def train_texts():
    source = sources.load_text_source(data_config, data_config.train_split)
    return itertools.islice(source, TOKENIZER_TRAIN_MAX_DOCS)
  return tokenizer_lib.get_tokenizer(data_config, train_texts)


def make_train_iterator(data_config, tokenizer, batch_size: int,
                        seed: int) -> SpanCorruptionIterator:
  source = sources.load_text_source(data_config, data_config.train_split)
  return SpanCorruptionIterator(source, tokenizer, data_config, batch_size, seed,
                                shuffle=True, repeat=True)


def make_eval_iterator(data_config, tokenizer, batch_size: int,
                       seed: int) -> SpanCorruptionIterator:
  source = sources.load_text_source(data_config, data_config.eval_split)
  return SpanCorruptionIterator(source, tokenizer, data_config, batch_size, seed,
                                shuffle=False, repeat=False)
