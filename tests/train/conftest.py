"""The tiny T5 config on the session data dir (tests/conftest.py)."""
import os

import pytest

from lm_jax.config.schema import load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def tiny_config(data_dir):
  config = load_config(os.path.join(REPO, 'configs', 't5_small.py:tiny'))
  config.data.data_dir = data_dir
  config.num_samples = 2
  return config
