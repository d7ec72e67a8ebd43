"""system_translations: the machine's gettext catalogs, read from a fixture locale directory in
the real .mo format (and from /usr/share/locale when this machine has German catalogs)."""
import os

import pytest

from lm_jax.data.builders import system_translations
from test_django_translations import write_mo

HEADER = b'Content-Type: text/plain; charset=UTF-8\n'


@pytest.fixture
def locale_dir(tmp_path, monkeypatch):
  messages = tmp_path / 'de' / 'LC_MESSAGES'
  messages.mkdir(parents=True)
  write_mo(messages / 'tar.mo', {b'': HEADER, b'Archive name required': b'Archivname ben\xc3\xb6tigt',
                                 b'Cannot open %s': b'Kann %s nicht \xc3\xb6ffnen'})
  write_mo(messages / 'git.mo', {b'': HEADER, b'Permission': b'Berechtigung',
                                 b'Tuesday\x04T': b'Di', b'Thursday\x04T': b'Do'})
  # Enough messages for every split to get some (TFDS refuses to write an empty split).
  write_mo(messages / 'psql.mo', {b'': HEADER, **{f'Row {i} deleted'.encode():
                                                  f'Zeile {i} gelöscht'.encode()
                                                  for i in range(60)}})
  write_mo(messages / 'iso_639.mo', {b'': HEADER, b'German': b'Deutsch'})  # a name table
  (messages / 'net-tools.mo').write_bytes(b'not a catalog')  # unreadable: skipped
  monkeypatch.setenv(system_translations.ENV_VAR, str(tmp_path))
  return tmp_path


def test_pairs_merge_catalogs_filter_and_skip_name_tables(locale_dir):
  pairs = system_translations.pairs('de')
  assert len(pairs) == 62 and ('Row 7 deleted', 'Zeile 7 gelöscht') in pairs
  assert [p for p in pairs if not p[0].startswith('Row')] == [
      ('Archive name required', 'Archivname benötigt'),
      ('Permission', 'Berechtigung'),
  ]  # placeholders, the ambiguous 'T', the iso_ table and the broken file are out


def test_prepared_dataset_holds_every_pair_in_one_split(locale_dir, tmp_path):
  builder = system_translations.prepare('de', str(tmp_path / 'tfds'))
  read = []
  for split in builder.info.splits:
    read += [(r['source'].decode(), r['target'].decode())
             for r in builder.as_data_source(split=split)]
  assert sorted(read) == system_translations.pairs('de')


def test_missing_catalogs_name_the_alternatives(tmp_path, monkeypatch):
  monkeypatch.setenv(system_translations.ENV_VAR, str(tmp_path))
  with pytest.raises(FileNotFoundError, match='django_translations'):
    system_translations.pairs('de')
  with pytest.raises(ValueError, match='available'):
    system_translations.prepare('xx', str(tmp_path))


@pytest.mark.skipif(not os.path.isdir('/usr/share/locale/de/LC_MESSAGES'),
                    reason='this machine has no German gettext catalogs')
def test_this_machines_catalogs_give_thousands_of_clean_pairs():
  pairs = system_translations.pairs('de')
  assert len(pairs) > 1000
  placeholder = system_translations.django_translations.PLACEHOLDER
  assert not any(placeholder.search(s) or placeholder.search(t) for s, t in pairs)
