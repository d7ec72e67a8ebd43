import os
import time

import pytest

from lm_jax.data import sources
from lm_jax.data import stdlib_corpus


def test_stdlib_docs_source_is_random_access_str(make_data_config):
  source = sources.load_text_source(make_data_config(), 'validation')
  assert len(source) == len(stdlib_corpus.documents('validation'))
  assert isinstance(source[0], str) and source[-1] == source[len(source) - 1]
  assert sorted(source) == sorted(t for _, t in stdlib_corpus.documents('validation'))
  with pytest.raises(IndexError):
    source[len(source)]
  assert len(sources.load_text_source(make_data_config(), 'train[:10]')) == 10


@pytest.mark.parametrize('name', ['mnist', 'c4/en'])
def test_unprepared_dataset_fails_fast_with_alternatives(make_data_config, tmp_path, name):
  empty = str(tmp_path / 'empty_data_dir')
  start = time.time()
  with pytest.raises(sources.DatasetNotFoundError) as error:
    sources.load_text_source(make_data_config(dataset=name, data_dir=empty), 'train')
  assert time.time() - start < 2.0
  message = str(error.value)
  assert isinstance(error.value, FileNotFoundError)
  assert name in message and empty in message
  assert '--config.data.dataset=stdlib_docs' in message
  assert '--config.data.data_dir=' in message
  assert '--config.data.download=True' in message
  assert not os.path.exists(empty) or not os.listdir(empty)  # nothing downloaded


def test_unknown_dataset_name(make_data_config, tmp_path):
  with pytest.raises(ValueError, match=r"'no_such_dataset_xyz'.*list_builders"):
    config = make_data_config(dataset='no_such_dataset_xyz', data_dir=str(tmp_path))
    sources.load_text_source(config, 'train')


def test_unknown_split_and_feature(make_data_config):
  with pytest.raises(ValueError, match=r"no split 'test'.*'train', 'validation'"):
    sources.load_text_source(make_data_config(), 'test')
  with pytest.raises(ValueError, match=r"no feature 'content'.*'text'"):
    sources.load_text_source(make_data_config(text_feature='content'), 'train')


def test_tfrecord_without_tensorflow_says_how_to_fix(make_data_config, tmp_path):
  import importlib.util
  import shutil
  import tensorflow_datasets as tfds
  if importlib.util.find_spec('tensorflow') is not None:
    pytest.skip('TensorFlow is installed: tfrecord datasets are readable')
  sources.load_text_source(make_data_config(), 'validation')  # prepared
  copy = tmp_path / 'copy'
  shutil.copytree(os.path.join(make_data_config().data_dir, 'stdlib_docs'), copy / 'stdlib_docs')
  info = copy / 'stdlib_docs' / '1.0.0' / 'dataset_info.json'
  info.write_text(info.read_text().replace('"array_record"', '"tfrecord"'))  # as if tfrecord
  builder = tfds.builder('stdlib_docs', data_dir=str(copy))
  with pytest.raises(RuntimeError, match=r"pip install tensorflow.*file_format='array_record'"):
    sources._records(builder, 'train')
