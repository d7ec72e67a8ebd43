"""The input pipeline's entry points: the tokenizer for a data config, and the train and eval
iterators with their batch shapes: of the downstream task `config.data.task` for the model's
family when one is set, else of the pretraining objective `config.data.objective`."""

import itertools
from collections.abc import Iterable, Iterator, Sequence

from lm_jax import families
from lm_jax.data import batch_iterator
from lm_jax.data import objectives
from lm_jax.data import scored_stream
from lm_jax.data import sources
from lm_jax.data import tasks
from lm_jax.data import tokenizer as tokenizer_lib
from lm_jax.data.line_scores import LineScoring
from lm_jax.data.tasks import task_iterator

# Training documents passed to the tokenizer trainer (it caps lines itself too).
TOKENIZER_TRAIN_MAX_DOCS = 1_000_000


def _task(data_config) -> tasks.Task | None:
  name = data_config.get('task')
  return tasks.get(name) if name else None


def _task_family(task: tasks.Task, family: str | None) -> str:
  if family is None:
    raise ValueError(
        f'config.data.task={task.name!r} makes batches for one model family: pass `family=` '
        f'(the model class\'s `family`, one of {", ".join(families.TASK_FAMILIES)}).')
  task_iterator.check_family(family, task)
  return family


def task_examples(data_config, split: str) -> Sequence[tasks.Example]:
  """The examples of `split` of `config.data.task` (their `references` score predictions)."""
  task = _task(data_config)
  if task is None:
    raise ValueError('config.data.task is not set: set --config.data.task to one of '
                     f'{", ".join(tasks.NAMES)}.')
  return tasks.load_examples(task, data_config, split)


def _with_extra_text(data_config, texts: Iterable[str]) -> Iterator[str]:
  """`texts` alternating, document by document, with the train split of each
  `config.data.tokenizer_extra_text` source until each runs out, so that the tokenizer trainer's
  line cap leaves every source its share."""
  extras = [sources.load_text_spec(data_config, spec) for spec in data_config.tokenizer_extra_text]
  iterators = [iter(texts), *(iter(extra) for extra in extras)]
  while iterators:
    for iterator in list(iterators):
      try:
        yield next(iterator)
      except StopIteration:
        iterators.remove(iterator)


def tokenizer_cache_name(data_config) -> str:
  """What a tokenizer trained for `data_config` is cached under: the task's name (its text, with
  the prefixes, is what it trains on) or the dataset's, then the extra text sources."""
  task = data_config.get('task')
  base = f'task_{task}' if task else data_config.dataset
  return '+'.join([base, *data_config.get('tokenizer_extra_text', ())])


def load_tokenizer_for(data_config):
  """The configured tokenizer, trained on (a bounded prefix of) the train split if needed: of
  the task's inputs and targets when `config.data.task` is set, else of `config.data.dataset`;
  with `config.data.tokenizer_extra_text` mixed in. A SentencePiece `Tokenizer`, or the
  `HfTokenizer` of a Hugging Face tokenizer that `config.data.tokenizer_path` names."""
  task = _task(data_config)
  if task is None:
    def train_texts():
      source = sources.load_text_source(data_config, data_config.train_split)
      return _with_extra_text(data_config, itertools.islice(source, TOKENIZER_TRAIN_MAX_DOCS))
    return tokenizer_lib.get_tokenizer(data_config, train_texts,
                                       tokenizer_cache_name(data_config))

  def task_texts():
    examples = task_examples(data_config, data_config.train_split)
    texts = (text for example in examples for text in (example.inputs, example.targets))
    return _with_extra_text(data_config, itertools.islice(texts, TOKENIZER_TRAIN_MAX_DOCS))
  try:
    return tokenizer_lib.get_tokenizer(data_config, task_texts, tokenizer_cache_name(data_config))
  except RuntimeError as error:
    if 'Vocabulary size too high' not in str(error):
      raise
    raise ValueError(
        f'The train split of config.data.task={task.name!r} is too small to train a tokenizer '
        f'of config.data.tokenizer_vocab_size={data_config.tokenizer_vocab_size} ({error}). '
        'Fine-tune with the pretrained model\'s tokenizer (--config.data.tokenizer_path), or '
        'lower --config.data.tokenizer_vocab_size.') from None


def _scored(preference_config) -> bool:
  return preference_config is not None and preference_config.objective != 'none'


def batch_shapes(data_config, batch_size: int, *, family: str | None = None,
                 preference=None) -> batch_iterator.BatchShapes:
  """`key -> ((batch_size, ...), numpy dtype)` for every key of the batches, e.g. to
  initialise a model before the first batch. `family` (the model's) is needed with a task;
  without one the objective decides the batch keys and `family` is not used. `preference`
  (config.preference) adds the token scores of pretraining with human preferences."""
  task = _task(data_config)
  if task is not None:
    return task_iterator.batch_shapes(_task_family(task, family), data_config, batch_size)
  if _scored(preference):
    return scored_stream.ScoredCausalLMIterator.batch_shapes(data_config, batch_size)
  return objectives.get(data_config.objective).batch_shapes(data_config, batch_size)


def make_scored_iterator(data_config, preference_config, tokenizer, batch_size: int, seed: int,
                         *, split: str, training: bool, transform: str | None = None):
  """Causal-LM batches of `split` with `decoder_token_scores`, through the data transform of
  config.preference's objective (or `transform`: 'aligned' scores the conditional model)."""
  scoring = LineScoring.for_config(preference_config, tokenizer, transform)
  return scored_stream.ScoredCausalLMIterator(
      sources.load_text_source(data_config, split), tokenizer, data_config, batch_size, seed,
      scoring, shuffle=training, repeat=training)


def _make_iterator(data_config, tokenizer, batch_size, seed, family, split, training):
  task = _task(data_config)
  if task is not None:
    family = _task_family(task, family)  # before any data is read
    return task_iterator.TaskIterator(
        task, tasks.load_examples(task, data_config, split), tokenizer, data_config,
        batch_size, seed, family=family, shuffle=training, repeat=training)
  iterator_class = objectives.get(data_config.objective)  # before any data is read
  source = sources.load_text_source(data_config, split)
  return iterator_class(source, tokenizer, data_config, batch_size, seed,
                        shuffle=training, repeat=training)


def make_train_iterator(data_config, tokenizer, batch_size: int, seed: int, *,
                        family: str | None = None, preference=None):
  """Endless batches of the train split, reshuffled every epoch; scored through the preference
  objective's data transform when `preference` (config.preference) sets one."""
  if _scored(preference):
    return make_scored_iterator(data_config, preference, tokenizer, batch_size, seed,
                                split=data_config.train_split, training=True)
  return _make_iterator(data_config, tokenizer, batch_size, seed, family,
                        data_config.train_split, training=True)


def make_eval_iterator(data_config, tokenizer, batch_size: int, seed: int, *,
                       family: str | None = None):
  """One pass over the eval split in order; the last batch is filled with padding rows."""
  return _make_iterator(data_config, tokenizer, batch_size, seed, family,
                        data_config.eval_split, training=False)
