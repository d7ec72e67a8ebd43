import os
import time

import pytest

from lm_jax.data import sources
from lm_jax.data.builders import stdlib_corpus


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


def test_decode_nested_bytes():
  import numpy as np
  record = {'question': b'Wer?', 'label': 3,
            'answers': {'text': np.array([b'Ann', 'Bé'.encode()], dtype=object),
                        'answer_start': np.array([0, 4], np.int32)},
            'lemmas': [b'cat', b'true_cat'], 'embedding': np.arange(3.0)}
  decoded = sources.decode(record)
  assert decoded['question'] == 'Wer?' and decoded['label'] == 3
  assert decoded['answers']['text'] == ['Ann', 'Bé']
  assert decoded['answers']['answer_start'].tolist() == [0, 4]
  assert decoded['lemmas'] == ['cat', 'true_cat']
  assert decoded['embedding'].dtype == np.float64


def test_load_records_of_a_split(make_data_config):
  config = make_data_config(dataset='mnist')  # `dataset=` takes precedence
  records = sources.load_records(config, 'validation', 'stdlib_docs')
  text = sources.load_text_source(make_data_config(), 'validation')
  assert len(records) == len(text) and set(records.features) == {'text'}
  assert records[0] == {'text': text[0]} and records[-1] == {'text': text[-1]}
  assert [r['text'] for r in records[2:5]] == text[2:5]
  with pytest.raises(IndexError):
    records[len(records)]


def test_nested_features_read_back_as_str(make_data_config, tmp_path):
  import numpy as np
  import tensorflow_datasets as tfds
  from etils import epath

  class LmJaxTestNestedRecords(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version('1.0.0')
    code_path = epath.Path(__file__)

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          'question': tfds.features.Text(),
          'answers': tfds.features.Sequence({'text': tfds.features.Text(),
                                             'answer_start': np.int32}),
          'label': tfds.features.ClassLabel(names=['no', 'yes'])}))

    def _split_generators(self, dl_manager):
      return {'train': self._generate_examples()}

    def _generate_examples(self):
      yield 0, {'question': 'Wer?', 'answers': {'text': ['Ann', 'Bé'], 'answer_start': [0, 4]},
                'label': 1}
      yield 1, {'question': 'Wo?', 'answers': {'text': [], 'answer_start': []}, 'label': 0}

  data_dir = str(tmp_path)
  LmJaxTestNestedRecords(data_dir=data_dir).download_and_prepare(
      file_format='array_record',
      download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  records = sources.load_records(make_data_config(data_dir=data_dir), 'train',
                                 'lm_jax_test_nested_records')
  by_question = {r['question']: r for r in records}
  assert by_question['Wer?']['answers']['text'] == ['Ann', 'Bé']
  assert [int(x) for x in by_question['Wer?']['answers']['answer_start']] == [0, 4]
  assert int(by_question['Wer?']['label']) == 1
  assert by_question['Wo?']['answers']['text'] == []
  assert records.features['label'].names == ['no', 'yes']
