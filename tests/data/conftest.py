"""Shared data fixtures on the session data dir (tests/conftest.py)."""

import ml_collections
import pytest

from lm_jax.config_schema import default_config
from lm_jax.data import pipeline
from lm_jax.data import sources

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
