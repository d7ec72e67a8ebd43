"""lm_jax.data.builders: the registry of offline datasets, `prepare` by name, and that it
never needs TensorFlow."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds

from lm_jax.data import builders
from lm_jax.data.builders import code_summaries, django_translations, docstring_qa
from lm_jax.data.builders import system_translations


def test_names_cover_every_offline_dataset():
  assert {'stdlib_docs', 'docstring_summaries', 'wordnet_categories', 'python_faq',
          'django_translations/de', 'django_translations/fr',
          'django_translations/zh_Hans', 'code_summaries/stdlib',
          'code_summaries/installed', 'docstring_qa/stdlib',
          'docstring_qa/installed', 'python_code'} <= set(builders.NAMES)
  assert len(builders.NAMES) == (6 + len(code_summaries.SOURCES) + len(docstring_qa.SOURCES)
                                 + len(django_translations.LANGUAGES)
                                 + len(system_translations.LANGUAGES))


@pytest.mark.parametrize('name', builders.NAMES)
def test_every_name_is_a_registered_tfds_builder(name):
  # So that tfds.builder(name, data_dir=...) / tfds.data_source read what prepare wrote.
  dataset, _, config = name.partition('/')
  cls = tfds.builder_cls(dataset)
  if config:
    assert config in cls.builder_configs


@pytest.mark.parametrize('name', ['mnist', 'c4/en', 'wmt14_translate/de-en', 'wordnet'])
def test_other_names_are_left_to_tfds(name, data_dir):
  assert builders.prepare(name, data_dir) is None


@pytest.mark.parametrize('name', ['django_translations', 'django_translations/xx'])
def test_unknown_django_language_lists_the_languages(name, data_dir):
  with pytest.raises(ValueError, match='django_translations/de, django_translations/es'):
    builders.prepare(name, data_dir)


def test_prepare_by_name_returns_the_prepared_builder(data_dir):
  builder = builders.prepare('django_translations/fr', data_dir)
  assert builder.name == 'django_translations' and builder.builder_config.name == 'fr'
  assert builder.is_prepared()
  read_back = tfds.data_source('django_translations/fr', data_dir=data_dir)
  assert len(read_back['train']) == len(builder.as_data_source(split='train')) > 300
  assert builders.prepare('django_translations/fr', data_dir).info.splits.total_num_examples == (
      builder.info.splits.total_num_examples)


_PREPARE = """
import json, sys
from lm_jax.data import builders
builder = builders.prepare('django_translations/nl', sys.argv[1])
print(json.dumps({'test': len(builder.as_data_source(split='test')),
                  'tensorflow_imported': 'tensorflow' in sys.modules}))
"""


def test_prepares_and_reads_without_tensorflow(tmp_path):
  # A fresh interpreter: another test may have imported TensorFlow-aware code.
  root = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
  result = subprocess.run([sys.executable, '-c', _PREPARE, str(tmp_path)], cwd=root,
                          capture_output=True, text=True, check=True, timeout=120)
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out['test'] > 30
  assert not out['tensorflow_imported']
