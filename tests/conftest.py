"""One TFDS data dir per test session: the embedded corpus is prepared and the tokenizer trained once."""
import pytest


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory) -> str:
  return str(tmp_path_factory.mktemp('tfds_data'))
