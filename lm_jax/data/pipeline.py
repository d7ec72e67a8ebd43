"""The input pipeline's entry points: the tokenizer for a data config, and the train and eval
iterators of the configured objective (`config.data.objective`) with their batch shapes."""

import itertools

from lm_jax.data import batch_iterator
from lm_jax.data import objectives
from lm_jax.data import sources
from lm_jax.data import tokenizer as tokenizer_lib
from lm_jax.data.objectives.span_corruption import SpanCorruptionIterator  # noqa: F401 (public)
from lm_jax.data.packing import batch_from_examples  # noqa: F401 (public)

# Training documents passed to the tokenizer trainer (it caps lines itself too).
TOKENIZER_TRAIN_MAX_DOCS = 1_000_000


def load_tokenizer_for(data_config) -> tokenizer_lib.Tokenizer:
  """The configured tokenizer, trained on (a bounded prefix of) the train split if needed."""
  def train_texts():
    source = sources.load_text_source(data_config, data_config.train_split)
    return itertools.islice(source, TOKENIZER_TRAIN_MAX_DOCS)
  return tokenizer_lib.get_tokenizer(data_config, train_texts)


def batch_shapes(data_config, batch_size: int) -> batch_iterator.BatchShapes:
  """`key -> ((batch_size, length), numpy dtype)` for every key of the configured
  objective's batches, e.g. to initialise a model before the first batch."""
  return objectives.get(data_config.objective).batch_shapes(data_config, batch_size)


def make_train_iterator(data_config, tokenizer, batch_size: int,
                        seed: int) -> batch_iterator.BatchIterator:
  """Endless batches of the train split, reshuffled every epoch."""
  iterator_class = objectives.get(data_config.objective)  # before any data is read
  source = sources.load_text_source(data_config, data_config.train_split)
  return iterator_class(source, tokenizer, data_config, batch_size, seed,
                        shuffle=True, repeat=True)


def make_eval_iterator(data_config, tokenizer, batch_size: int,
                       seed: int) -> batch_iterator.BatchIterator:
  """One pass over the eval split in order; the last batch is padded with all-zero rows."""
  iterator_class = objectives.get(data_config.objective)  # before any data is read
  source = sources.load_text_source(data_config, data_config.eval_split)
  return iterator_class(source, tokenizer, data_config, batch_size, seed,
                        shuffle=False, repeat=False)
