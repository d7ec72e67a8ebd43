"""A file written through lm_jax.atomic_files is the old one or the new one, never a mix."""
import json
import os

import pytest

from lm_jax import atomic_files


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
  path = str(tmp_path / 'state.json')
  atomic_files.write_json(path, {'step': 1})

  def write_half_then_fail(tmp):
    with open(tmp, 'w') as f:
      f.write('{"step": ')
    raise OSError('disk full')

  with pytest.raises(OSError, match='disk full'):
    atomic_files.replace_file(path, write_half_then_fail)
  assert json.load(open(path)) == {'step': 1}
  assert os.listdir(tmp_path) == ['state.json']
  atomic_files.write_text(path, '{"step": 2}')
  assert json.load(open(path)) == {'step': 2}
