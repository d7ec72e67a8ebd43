"""Record sources: a split of a TFDS dataset as a random-access sequence of records with text
as str, read without TensorFlow when prepared as array_record (the offline datasets of
`lm_jax.data.builders` always are); a text source is one feature of it."""

import importlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from lm_jax.data import builders
from lm_jax.data.builders import offline

EMBEDDED_DATASET = 'stdlib_docs'
# What the not-prepared error suggests by default instead of a missing dataset.
EMBEDDED_OPTION = (f'--config.data.dataset={EMBEDDED_DATASET}   '
                   'the embedded corpus, prepared offline')
# The packages whose import registers TFDS's own builders. TFDS imports them in one
# try block and stops at the first failure (`nearest_neighbors` needs h5py), which
# leaves later ones such as `text` (c4, wikipedia, glue) unregistered; importing each
# on its own registers everything importable here.
_TFDS_BUILDER_PACKAGES = (
    'audio', 'graphs', 'image', 'image_classification', 'object_detection',
    'nearest_neighbors', 'question_answering', 'd4rl', 'ranking', 'recommendation',
    'rl_unplugged', 'rlds.datasets', 'robotics', 'robomimic', 'structured',
    'summarization', 'text', 'text_simplification', 'time_series', 'translate',
    'video', 'vision_language')


class DatasetNotFoundError(FileNotFoundError):
  """A known TFDS dataset that is not prepared in the data dir, with download off."""


def decode(value: Any) -> Any:
  """`value` with every bytes inside it decoded as UTF-8: TFDS stores Text features as bytes,
  in nested features (e.g. squad's `answers`) as lists (array_record) or numpy object arrays
  (tfrecord). Numeric arrays and scalars are returned as they are."""
  if isinstance(value, bytes):  # np.bytes_ too
    return value.decode('utf-8')
  if isinstance(value, dict):
    return {key: decode(item) for key, item in value.items()}
  if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.dtype == object):
    return [decode(item) for item in value]
  return value


class Records(Sequence):
  """`records[i] -> dict`: the records of one split, text decoded to str (see `decode`)."""

  def __init__(self, records: Any, features: Any, name: str = ''):
    self._records = records
    self.features = features  # the builder's FeaturesDict: names of ClassLabels etc.
    self.name = name

  def __len__(self) -> int:
    return len(self._records)

  def __getitem__(self, index: int) -> dict:
    if isinstance(index, slice):
      return [self[i] for i in range(*index.indices(len(self)))]
    return decode(self._records[_checked_index(index, len(self), self)])

  def __repr__(self) -> str:
    return f'Records({self.name!r}, len={len(self)})'


class TextSource(Sequence):
  """`source[i] -> str`: one text feature of a split's records."""

  def __init__(self, records: Sequence[dict], feature: str, name: str = ''):
    self._records = records
    self._feature = feature
    self._name = name

  def __len__(self) -> int:
    return len(self._records)

  def __getitem__(self, index: int) -> str:
    if isinstance(index, slice):
      return [self[i] for i in range(*index.indices(len(self)))]
    return str(self._records[_checked_index(index, len(self), self)][self._feature])

  def __repr__(self) -> str:
    return f'TextSource({self._name!r}, feature={self._feature!r}, len={len(self)})'


def _checked_index(index: int, length: int, sequence) -> int:
  if index < 0:
    index += length
  if not 0 <= index < length:  # `Sequence.__iter__` stops on IndexError
    raise IndexError(f'index {index} out of range for {sequence!r}')
  return index


class _SequentialRecords:
  """Index access over a tf.data split for tfrecord datasets (TensorFlow required).

  tfrecord files have no index, so records are read in order and kept: sequential
  access is cheap, shuffled access holds the split in memory. Large tfrecord corpora
  should be re-prepared as array_record instead.
  """

  def __init__(self, builder, split: str):
    self._builder = builder
    self._split = split
    self._length = builder.info.splits[split].num_examples
    self._cache = []
    self._iterator = None

  def __len__(self) -> int:
    return self._length

  def __getitem__(self, index: int):
    if index < 0:
      index += self._length
    if not 0 <= index < self._length:
      raise IndexError(index)
    if self._iterator is None:
      dataset = self._builder.as_dataset(split=self._split, shuffle_files=False)
      self._iterator = iter(tfds.as_numpy(dataset))
    while len(self._cache) <= index:
      self._cache.append(next(self._iterator))
    return self._cache[index]


def _tensorflow_available() -> bool:
  return importlib.util.find_spec('tensorflow') is not None


def tfds_builder(name: str, data_dir: str | None):
  """The builder of TFDS dataset `name` in `data_dir`, whether prepared or not (nothing is
  prepared or downloaded): of the project's offline datasets or of TFDS's own."""
  try:
    return tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    pass
  for package in _TFDS_BUILDER_PACKAGES:
    try:
      importlib.import_module(f'tensorflow_datasets.{package}')
    except ImportError:
      continue
  try:
    return tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(
        f'Unknown TFDS dataset {name!r} (config.data.dataset). See the registered names '
        'with `python -c "import tensorflow_datasets as tfds; '
        'print(tfds.list_builders(with_community_datasets=False))"`, or use '
        f'--config.data.dataset={EMBEDDED_DATASET} for the embedded corpus.') from None


def _check_split(builder, split: str) -> None:
  # 'train[:1000]' and 'train+validation' are valid TFDS split expressions.
  available = list(builder.info.splits.keys())
  for part in split.split('+'):
    base = part.split('[')[0].strip()
    if base not in available:
      raise ValueError(
          f'Dataset {builder.name!r} has no split {base!r}; available splits: {available}.')


def _not_prepared_error(data_config, builder, name: str,
                        offline_option: str) -> DatasetNotFoundError:
  task = data_config.get('task')
  needed_by = f' (the data of config.data.task={task!r})' if task else ''
  return DatasetNotFoundError(
      f'TFDS dataset {name!r}{needed_by} is not prepared in the data dir '
      f'{resolved_data_dir(data_config)} (looked for {builder.data_dir}) '
      'and config.data.download is False, so nothing is downloaded. Options:\n'
      f'  {offline_option}\n'
      '  --config.data.data_dir=<dir where you prepared it>\n'
      '  --config.data.download=True   on a machine with internet access')


def load_records(data_config, split: str, dataset: str | None = None, *,
                 offline_option: str = EMBEDDED_OPTION) -> Sequence[dict]:
  """Random-access records of `split` of `dataset` (default `data_config.dataset`), text as str.

  The project's offline datasets (`lm_jax.data.builders`) are prepared on first use; TFDS's own
  are read from `data_config.data_dir`, and downloaded only with `data_config.download`.
  `offline_option` is the command-line alternative the not-prepared error suggests.
  """
  name, data_dir = dataset or data_config.dataset, data_config.data_dir
  builder = builders.prepare(name, data_dir)
  if builder is None:  # one of TFDS's own datasets
    builder = tfds_builder(name, data_dir)
    if not builder.is_prepared():
      if not data_config.download:
        raise _not_prepared_error(data_config, builder, name, offline_option)
      # array_record so that the result reads back without TensorFlow.
      builder.download_and_prepare(file_format=offline.FILE_FORMAT)
  _check_split(builder, split)
  return Records(_records(builder, split), builder.info.features, name=f'{name}:{split}')


def is_text_spec(spec) -> bool:
  """Does `spec` name a text feature of a dataset as '<dataset>:<feature>'?"""
  return isinstance(spec, str) and len(spec.split(':')) == 2 and all(spec.split(':'))


def load_text_spec(data_config, spec: str) -> Sequence[str]:
  """The train split of the text feature '<dataset>:<feature>' names (tokenizer_extra_text,
  eval.decontaminate_against)."""
  dataset, feature = spec.split(':')
  return load_text_source(data_config, data_config.train_split, dataset, feature)


def load_text_source(data_config, split: str, dataset: str | None = None,
                     feature: str | None = None) -> Sequence[str]:
  """One text feature of `split` of a dataset, as str: by default `data_config.text_feature` of
  `data_config.dataset`."""
  records = load_records(data_config, split, dataset)
  feature = feature or data_config.text_feature
  if feature not in records.features:
    raise ValueError(
        f'Dataset {dataset or data_config.dataset!r} has no feature {feature!r} '
        f'(config.data.text_feature or tokenizer_extra_text); features: '
        f'{list(records.features.keys())}.')
  return TextSource(records, feature, name=records.name)


def _records(builder, split: str):
  """Index-addressable records of a prepared split: array_record natively, tfrecord
  through TensorFlow."""
  file_format = builder.info.file_format
  if file_format == tfds.core.FileFormat.ARRAY_RECORD:
    return builder.as_data_source(split=split)
  if _tensorflow_available():
    return _SequentialRecords(builder, split)
  raise RuntimeError(
      f'Dataset {builder.name!r} in {builder.data_dir} is stored as '
      f'{getattr(file_format, "value", file_format)}, which only TensorFlow reads. '
      'Either `pip install tensorflow`, or re-prepare it with '
      "`builder.download_and_prepare(file_format='array_record')` (or convert it with "
      '`tfds convert_format --out_file_format=array_record`) to read it without TensorFlow.')


def resolved_data_dir(data_config) -> str:
  """The data dir TFDS uses for `data_config.data_dir` (None -> the TFDS default)."""
  return os.path.expanduser(data_config.data_dir or tfds.core.constants.DATA_DIR)
