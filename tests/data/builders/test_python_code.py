"""python_code: whole source files of the standard library and the pinned packages, each file in
one split by a hash of its path, each text once; a missing package is named."""
import os
import sysconfig

import pytest

from lm_jax.data.builders import offline, python_code


@pytest.fixture(scope='module')
def splits(data_dir, read_splits):
  return read_splits(python_code.prepare(data_dir))


def test_every_file_is_read_whole_into_the_split_of_its_path(splits):
  on_disk = dict(python_code.source_files())
  seen_paths, seen_texts = set(), set()
  for split, records in splits.items():
    for record in records:
      path = record['path']
      assert offline.hash_split(path, offline.TRAIN_VALIDATION_TEST) == split
      with open(on_disk[path], encoding='utf-8') as f:
        assert record['text'] == f.read()
      assert path not in seen_paths and record['text'] not in seen_texts
      seen_paths.add(path)
      seen_texts.add(record['text'])
  sources = {path.split('/')[0] for path in seen_paths}
  assert sources == {python_code.STDLIB, *python_code.PACKAGES}
  assert not any(part in ('test', 'tests') for path in seen_paths for part in path.split('/'))
  # Beside the standard library's own files, most are the packages'.
  stdlib = sysconfig.get_paths()['stdlib']
  assert os.path.join(stdlib, 'json/decoder.py') == on_disk['stdlib/json/decoder.py']
  assert sum(path.startswith('stdlib/') for path in seen_paths) < 0.5 * len(seen_paths)
  assert {split: len(records) > 100 for split, records in splits.items()} == {
      'train': True, 'validation': True, 'test': True}


def test_a_package_that_is_not_installed_is_named(monkeypatch):
  monkeypatch.setitem(python_code.PACKAGES, 'no_such_package_xyz', 'no-such-package')
  with pytest.raises(FileNotFoundError, match='no_such_package_xyz \\(no-such-package\\), which '
                                              'is not installed: pip install -r requirements'):
    python_code.source_files()
