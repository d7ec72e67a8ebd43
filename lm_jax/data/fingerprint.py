"""What data a run read, recorded in its workdir (`data_fingerprint.json`): each dataset's TFDS
name, version, split sizes and a hash of its prepared records, the tokenizer file's hash and the
Python version. The offline datasets are built from what a machine holds (its Python, packages,
locales), so two runs' numbers compare only when their fingerprints match."""

import hashlib
import os
import platform

from array_record.python import array_record_data_source
from etils import epath
import jax
import tensorflow_datasets as tfds
from tensorflow_datasets.proto import tf_example_pb2

from lm_jax import atomic_files
from lm_jax.data import hf_tokenizer
from lm_jax.data import pipeline
from lm_jax.data import sources
from lm_jax.data import tasks
from lm_jax.data import tokenizer as tokenizer_lib

FILENAME = 'data_fingerprint.json'
# Above this many prepared bytes (C4 is ~800 GB) the hash covers the files' names and sizes, not
# the records: fingerprinting must stay a matter of seconds (117k WordNet records: 0.6 s).
MAX_HASHED_BYTES = 2 << 30
_CHUNK_BYTES = 1 << 20
_BATCH = 4096  # records read at once


def dataset_names(data_config) -> list[str]:
  """The datasets a run reads: the task's (else `data.dataset`), then the tokenizer's extra text
  sources (`data.tokenizer_extra_text`)."""
  task = data_config.get('task')
  names = [tasks.get(task).dataset if task else data_config.dataset]
  names += [spec.split(':')[0] for spec in data_config.get('tokenizer_extra_text', ())]
  return list(dict.fromkeys(names))


def _update_with_file(digest, path: epath.Path) -> None:
  with path.open('rb') as f:
    while chunk := f.read(_CHUNK_BYTES):
      digest.update(chunk)


def file_sha256(path: str) -> str:
  digest = hashlib.sha256()
  _update_with_file(digest, epath.Path(path))
  return digest.hexdigest()


def _update_with_records(digest, builder) -> None:
  """Every split's records in order, each a tf.Example serialized again with its features
  sorted: protobuf writes a map in an order that changes from process to process, so the bytes
  on disk differ each time the same data is prepared."""
  for split, info in sorted(builder.info.splits.items()):
    digest.update(f'{split}\0{info.num_examples}\0'.encode())
    records = array_record_data_source.ArrayRecordDataSource([str(p) for p in info.filepaths])
    for start in range(0, len(records), _BATCH):
      for raw in records.__getitems__(list(range(start, min(start + _BATCH, len(records))))):
        record = tf_example_pb2.Example.FromString(raw).SerializeToString(deterministic=True)
        digest.update(len(record).to_bytes(8, 'little') + record)


def data_sha256(builder) -> tuple[str, str]:
  """(SHA-256, what it covers) of a prepared dataset: its dataset_info.json, then its records
  when they are array_record files of at most MAX_HASHED_BYTES, else its files' names and sizes.
  The same data prepared anywhere hashes the same."""
  directory = epath.Path(builder.data_dir)
  sizes = {p.name: p.stat().length for p in sorted(directory.iterdir(), key=lambda p: p.name)
           if p.is_file()}
  digest = hashlib.sha256()
  _update_with_file(digest, directory / 'dataset_info.json')
  if (builder.info.file_format == tfds.core.FileFormat.ARRAY_RECORD
      and sum(sizes.values()) <= MAX_HASHED_BYTES):
    _update_with_records(digest, builder)
    return digest.hexdigest(), 'dataset_info.json and records'
  for name, size in sizes.items():
    digest.update(f'{name}\0{size}\0'.encode())
  return digest.hexdigest(), 'dataset_info.json, file names and sizes'


def dataset_fingerprint(name: str, data_dir: str | None) -> dict:
  """Name, config, version, directory and, once prepared, examples per split and the hash of
  dataset `name` in `data_dir`; nothing is prepared."""
  builder = sources.tfds_builder(name, data_dir)
  config = builder.builder_config
  record = {'tfds_name': builder.name, 'config': config.name if config else None,
            'version': str(builder.version), 'directory': str(builder.data_dir),
            'prepared': builder.is_prepared()}
  if record['prepared']:
    splits = builder.info.splits
    record['num_examples'] = {split: splits[split].num_examples for split in splits}
    record['sha256'], record['sha256_covers'] = data_sha256(builder)
  return record


def _tokenizer_fingerprint(data_config) -> dict | None:
  """The tokenizer file the run uses: `data.tokenizer_path`, else the one trained and cached for
  its data (None before it is trained); a Hugging Face tokenizer's files each."""
  path = data_config.tokenizer_path or tokenizer_lib.cached_path(
      data_config, pipeline.tokenizer_cache_name(data_config))
  hf_directory = hf_tokenizer.tokenizer_directory(path)
  if hf_directory is not None:  # every file its ids depend on
    return {'path': path, 'sha256': {name: file_sha256(os.path.join(hf_directory, name))
                                     for name in hf_tokenizer.tokenizer_files(hf_directory)}}
  if not epath.Path(path).is_file():
    return None
  return {'path': path, 'sha256': file_sha256(path)}


def fingerprint(data_config) -> dict:
  """The fingerprint of the data of `data_config` (a run's `config.data`), read from what is
  already prepared: call it after the data is (a dataset not yet prepared says so)."""
  return {
      'python_version': platform.python_version(),
      'task': data_config.get('task'),
      'datasets': {name: dataset_fingerprint(name, data_config.data_dir)
                   for name in dataset_names(data_config)},
      'tokenizer': _tokenizer_fingerprint(data_config),
  }


def write_fingerprint(workdir: str, data_config) -> str:
  """Writes `<workdir>/data_fingerprint.json` from process 0 (every process reads the same
  data), write then rename so that a kill never leaves half a file; returns its path."""
  path = os.path.join(workdir, FILENAME)
  if jax.process_index() == 0:
    record = fingerprint(data_config)
    os.makedirs(workdir, exist_ok=True)
    atomic_files.write_json(path, record, sort_keys=True)
  return path
