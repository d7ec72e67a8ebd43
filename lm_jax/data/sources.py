"""Text sources: a split of a TFDS dataset as a random-access sequence of str, read
without TensorFlow when prepared as array_record (the embedded `stdlib_docs` always is)."""

import importlib
import os
from collections.abc import Sequence
from typing import Any

import tensorflow_datasets as tfds

from lm_jax.data import stdlib_docs_builder

EMBEDDED_DATASET = 'stdlib_docs'
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


class TextSource(Sequence):
  """`source[i] -> str`: one text feature of a record-indexed split."""

  def __init__(self, records: Any, feature: str, name: str = ''):
    self._records = records
    self._feature = feature
    self._name = name

  def __len__(self) -> int:
    return len(self._records)

  def __getitem__(self, index: int) -> str:
    if isinstance(index, slice):
      return [self[i] for i in range(*index.indices(len(self)))]
    length = len(self)
    if index < 0:
      index += length
    if not 0 <= index < length:  # `Sequence.__iter__` stops on IndexError
      raise IndexError(f'index {index} out of range for {self!r}')
    value = self._records[index][self._feature]
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)

  def __repr__(self) -> str:
    return f'TextSource({self._name!r}, feature={self._feature!r}, len={len(self)})'


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


def _builder(name: str, data_dir: str | None):
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


def _not_prepared_error(data_config, builder) -> DatasetNotFoundError:
  name = data_config.dataset
  return DatasetNotFoundError(
      f'TFDS dataset {name!r} is not prepared in the data dir {resolved_data_dir(data_config)} '
      f'(looked for {builder.data_dir}) '
      'and config.data.download is False, so nothing is downloaded. Options:\n'
      f'  --config.data.dataset={EMBEDDED_DATASET}   the embedded corpus, prepared offline\n'
      '  --config.data.data_dir=<dir where you prepared it>\n'
      '  --config.data.download=True   on a machine with internet access')


def load_text_source(data_config, split: str) -> Sequence[str]:
  """The `data_config.text_feature` of `split` of `data_config.dataset`, as str."""
  name, data_dir = data_config.dataset, data_config.data_dir
  if name == EMBEDDED_DATASET:
    builder = stdlib_docs_builder.prepare(data_dir)
  else:
    builder = _builder(name, data_dir)
    if not builder.is_prepared():
      if not data_config.download:
        raise _not_prepared_error(data_config, builder)
      # array_record so that the result reads back without TensorFlow.
      builder.download_and_prepare(file_format=stdlib_docs_builder.FILE_FORMAT)
  _check_split(builder, split)

  features = builder.info.features
  if data_config.text_feature not in features:
    raise ValueError(
        f'Dataset {builder.name!r} has no feature {data_config.text_feature!r} '
        f'(config.data.text_feature); features: {list(features.keys())}.')

  return TextSource(_records(builder, split), data_config.text_feature,
                    name=f'{builder.name}:{split}')


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
