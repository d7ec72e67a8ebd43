"""The data fingerprint of a run: the prepared datasets' sizes as their builders recorded them, a
hash that follows their data and not the bytes a preparation happened to write, and nothing
prepared to compute it."""
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys

import jax
import pytest

from lm_jax.data import builders
from lm_jax.data import fingerprint as fp

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def prepared(make_data_config, tokenizer):
  """The default data config, its dataset prepared and its tokenizer trained (session data dir)."""
  config = make_data_config()
  return config, builders.prepare(config.dataset, config.data_dir), tokenizer


def test_the_builders_sizes_and_the_tokenizers_hash(prepared):
  config, builder, tokenizer = prepared
  record = fp.fingerprint(config)
  assert record['python_version'] == platform.python_version() and record['task'] is None
  assert list(record['datasets']) == ['stdlib_docs']
  dataset = record['datasets']['stdlib_docs']
  assert dataset['num_examples'] == {split: info.num_examples
                                     for split, info in builder.info.splits.items()}
  assert dataset['num_examples']['train'] > 0 and dataset['prepared']
  assert (dataset['tfds_name'], dataset['config'], dataset['version']) == (
      'stdlib_docs', None, str(builder.version))
  assert dataset['directory'] == str(builder.data_dir)
  assert dataset['sha256_covers'] == 'dataset_info.json and records'
  with open(tokenizer.path, 'rb') as f:
    assert record['tokenizer'] == {'path': tokenizer.path,
                                   'sha256': hashlib.sha256(f.read()).hexdigest()}
  assert fp.fingerprint(config) == record  # stable


def test_a_task_names_its_dataset_and_the_extra_text(make_data_config):
  config = make_data_config(task='translate_en_de', tokenizer_extra_text=('stdlib_docs:text',))
  builders.prepare('django_translations/de', config.data_dir)
  datasets = fp.fingerprint(config)['datasets']
  assert list(datasets) == ['django_translations/de', 'stdlib_docs']
  assert (datasets['django_translations/de']['tfds_name'],
          datasets['django_translations/de']['config']) == ('django_translations', 'de')


@pytest.fixture
def copied(prepared, tmp_path, make_data_config):
  """A config on a copy of the prepared dataset, and the copy's directory."""
  config, builder, _ = prepared
  shutil.copytree(os.path.join(config.data_dir, 'stdlib_docs'), tmp_path / 'stdlib_docs')
  directory = tmp_path / os.path.relpath(builder.data_dir, config.data_dir)
  return make_data_config(data_dir=str(tmp_path)), directory


def test_the_hash_follows_the_prepared_files(prepared, copied, monkeypatch):
  config, directory = copied
  before = fp.fingerprint(config)['datasets']['stdlib_docs']
  assert before['sha256'] == fp.fingerprint(prepared[0])['datasets']['stdlib_docs']['sha256']
  info_file = directory / 'dataset_info.json'
  info = json.loads(info_file.read_text())
  info['description'] += ' Changed.'
  info_file.write_text(json.dumps(info))
  after = fp.fingerprint(config)['datasets']['stdlib_docs']
  assert after['sha256'] != before['sha256']
  assert after['num_examples'] == before['num_examples']
  # Over the size limit the hash reads names and sizes: a shard cut short still shows.
  monkeypatch.setattr(fp, 'MAX_HASHED_BYTES', 0)
  names_and_sizes = fp.fingerprint(config)['datasets']['stdlib_docs']
  assert names_and_sizes['sha256_covers'] == 'dataset_info.json, file names and sizes'
  shard = next(p for p in directory.iterdir() if '-validation.array_record' in p.name)
  shard.write_bytes(shard.read_bytes()[:-1])
  assert fp.fingerprint(config)['datasets']['stdlib_docs']['sha256'] != names_and_sizes['sha256']


# Prepares the WordNet fixture ($LM_JAX_WORDNET_DIR) in a data dir and prints its hash.
_PREPARE_AND_HASH = """
import sys
from lm_jax.data import builders, fingerprint
builders.prepare('wordnet_categories', sys.argv[1])
print(fingerprint.dataset_fingerprint('wordnet_categories', sys.argv[1])['sha256'])
"""


def test_the_same_data_hashes_the_same_wherever_prepared(wordnet_dir, tmp_path):
  # Another process writes other bytes for the same records (protobuf's map order).
  hashes = []
  for data_dir in ('here', 'there'):
    result = subprocess.run([sys.executable, '-c', _PREPARE_AND_HASH, str(tmp_path / data_dir)],
                            cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    hashes.append(result.stdout.split()[-1])
  builders.prepare('wordnet_categories', str(tmp_path / 'in_process'))
  in_process = fp.dataset_fingerprint('wordnet_categories', str(tmp_path / 'in_process'))
  hashes.append(in_process['sha256'])
  assert len(set(hashes)) == 1
  noun = os.path.join(wordnet_dir, 'data.noun')
  with open(noun) as f:
    text = f.read()
  with open(noun, 'w') as f:
    f.write(text.replace('sense number 7 ', 'sense number 8 '))  # one definition changes
  builders.prepare('wordnet_categories', str(tmp_path / 'changed'))
  assert fp.dataset_fingerprint('wordnet_categories', str(tmp_path / 'changed'))['sha256'] != (
      hashes[0])


def test_nothing_is_prepared(make_data_config, tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  record = fp.fingerprint(make_data_config(data_dir=str(empty)))
  assert record['datasets']['stdlib_docs']['prepared'] is False
  assert 'sha256' not in record['datasets']['stdlib_docs'] and record['tokenizer'] is None
  assert not list(empty.iterdir())


def test_written_atomically_by_process_zero_only(prepared, tmp_path, monkeypatch):
  config = prepared[0]
  path = fp.write_fingerprint(str(tmp_path / 'run'), config)
  assert path == str(tmp_path / 'run' / 'data_fingerprint.json')
  with open(path) as f:
    assert json.load(f) == fp.fingerprint(config)
  assert os.listdir(tmp_path / 'run') == ['data_fingerprint.json']  # no temporary file left
  monkeypatch.setattr(jax, 'process_index', lambda: 1)
  assert fp.write_fingerprint(str(tmp_path / 'other'), config).endswith('data_fingerprint.json')
  assert not os.path.exists(tmp_path / 'other')
