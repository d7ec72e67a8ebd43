"""What the project's offline TFDS builders share: array_record, nothing to download, and
keyed examples sent to their split by the subclass (usually by a hash of a key)."""

import abc
import collections
import hashlib
from collections.abc import Iterator, Mapping
from typing import TypeVar

from etils import epath
import tensorflow_datasets as tfds

# array_record is the format TFDS can write and random-access read without TensorFlow.
FILE_FORMAT = 'array_record'
TRAIN_VALIDATION_TEST = {'train': 80, 'validation': 10, 'test': 10}
_Builder = TypeVar('_Builder', bound=tfds.core.DatasetBuilder)


def hash_split(key: str, percents: Mapping[str, int]) -> str:
  """The split of `key`, fixed by a hash of it: split s takes percents[s] of the 100 buckets,
  in the mapping's order ({'train': 80, 'validation': 10, 'test': 10})."""
  if sum(percents.values()) != 100:
    raise ValueError(f'Split percentages must sum to 100, got {dict(percents)}.')
  bucket = int.from_bytes(hashlib.sha256(key.encode('utf-8')).digest()[:8], 'big') % 100
  for split, percent in percents.items():
    if bucket < percent:
      return split
    bucket -= percent
  raise AssertionError('unreachable: the percentages sum to 100')


class OfflineBuilder(tfds.core.GeneratorBasedBuilder):
  """A builder whose source is already on the machine: a subclass gives `_info`, `SPLITS`
  and `_keyed_examples`."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  SPLITS: tuple[str, ...] = tuple(TRAIN_VALIDATION_TEST)
  # TFDS derives this from the package via `importlib_resources`, a module that is
  # not installed here; it is only used to look for a checksums file next to it.
  code_path = epath.Path(__file__)

  @abc.abstractmethod
  def _keyed_examples(self) -> Iterator[tuple[str, str, dict]]:
    """(split, key, example) of every example, in the order each split is to be written."""

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: the source ships with the machine
    by_split = collections.defaultdict(list)
    for split, key, example in self._keyed_examples():
      by_split[split].append((key, example))
    return {split: self._generate_examples(by_split[split]) for split in self.SPLITS}

  def _generate_examples(self, keyed_examples):
    yield from keyed_examples


def prepare(builder: _Builder) -> _Builder:
  """Prepares `builder` offline if its data dir lacks it (a no-op otherwise) and returns it."""
  builder.download_and_prepare(
      file_format=FILE_FORMAT,
      download_config=tfds.download.DownloadConfig(try_download_gcs=False),
  )
  return builder
