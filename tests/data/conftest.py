"""Shared data fixtures: configs on the session data dir (tests/conftest.py), and the sources of
the builders that read installed data."""

import ml_collections
import pytest

from lm_jax.config.schema import default_config
from lm_jax.data import pipeline
from lm_jax.data import sources
from lm_jax.data.builders import python_faq, python_reference_qa, system_translations
from lm_jax.data.builders import wordnet_categories
from system_data import gettext_catalogs, python_docs, wordnet

TEST_VOCAB_SIZE = 2000  # small: trains in seconds


@pytest.fixture(scope='session')
def make_data_config(data_dir):
  """`make_data_config(**overrides)`: a fresh `config.data` pointing at the test data dir."""

  def make(**overrides) -> ml_collections.ConfigDict:
    config = default_config().data
    config.update(data_dir=data_dir, tokenizer_vocab_size=TEST_VOCAB_SIZE)
    config.update(overrides)
    return config

  return make


@pytest.fixture(scope='session')
def tokenizer(make_data_config):
  return pipeline.load_tokenizer_for(make_data_config())


@pytest.fixture(scope='session')
def validation_texts(make_data_config) -> list[str]:
  """The embedded corpus' validation documents (~290), as a list for fast re-reading."""
  return list(sources.load_text_source(make_data_config(), 'validation'))


# Sources in the real formats for the builders of installed data (tests/system_data), each
# pointed at by the builder's environment variable, so that tests of the code paths run on
# machines without the Debian packages.

@pytest.fixture
def wordnet_dir(tmp_path, monkeypatch) -> str:
  """$LM_JAX_WORDNET_DIR: data files of 400 made-up synsets (~20 s less than the real 117k)."""
  directory = wordnet.write(str(tmp_path / 'wordnet'))
  monkeypatch.setenv(wordnet_categories.ENV_VAR, directory)
  return directory


@pytest.fixture
def faq_dir(tmp_path, monkeypatch) -> str:
  """$LM_JAX_PYTHON_FAQ_DIR: the FAQ page of system_data.python_docs."""
  directory = python_docs.write_faq(str(tmp_path / 'faq'))
  monkeypatch.setenv(python_faq.ENV_VAR, directory)
  return directory


@pytest.fixture
def library_dir(tmp_path, monkeypatch) -> str:
  """$LM_JAX_PYTHON_DOCS_DIR: docs sources whose library/ (returned) holds the Library
  Reference pages of system_data.python_docs."""
  monkeypatch.setenv(python_reference_qa.ENV_VAR, str(tmp_path / 'sources'))
  return python_docs.write_library(str(tmp_path / 'sources'))


@pytest.fixture
def locale_catalogs(tmp_path, monkeypatch) -> str:
  """$LM_JAX_LOCALE_DIR: a catalog of every system_translations language."""
  directory = gettext_catalogs.write_locale(str(tmp_path / 'locale'),
                                            system_translations.LANGUAGES)
  monkeypatch.setenv(system_translations.ENV_VAR, directory)
  return directory
