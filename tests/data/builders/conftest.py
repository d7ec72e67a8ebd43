"""What the builders' tests share: reading a prepared dataset back, every split, as text."""
import pytest


@pytest.fixture(scope='session')
def read_splits():
  """A function: prepared builder -> {split: its records in order, bytes decoded as UTF-8}."""

  def read(builder):
    return {split: [{k: v.decode('utf-8') if isinstance(v, bytes) else v
                     for k, v in record.items()}
                    for record in builder.as_data_source(split=split)]
            for split in builder.info.splits}

  return read
