"""system_translations: the machine's gettext catalogs, read from a fixture locale directory in
the real .mo format (and from /usr/share/locale when this machine has German catalogs)."""
import glob

import pytest

from lm_jax.data.builders import gettext_pairs
from lm_jax.data.builders import system_translations
from system_data.gettext_catalogs import HEADER, write_locale, write_mo

# What installed software put there, if anything (a minimal image may hold none).
GERMAN_CATALOGS = glob.glob(f'{system_translations.DEFAULT_DIR}/de/LC_MESSAGES/*.mo')


@pytest.fixture
def locale_dir(tmp_path, monkeypatch):
  """German catalogs: 60 messages (write_locale), and others that test each filter."""
  messages = tmp_path / 'de' / 'LC_MESSAGES'
  write_locale(str(tmp_path), ('de',))
  write_mo(messages / 'tar.mo', {b'': HEADER, b'Archive name required': b'Archivname ben\xc3\xb6tigt',
                                 b'Cannot open %s': b'Kann %s nicht \xc3\xb6ffnen'})
  write_mo(messages / 'git.mo', {b'': HEADER, b'Permission': b'Berechtigung',
                                 b'Tuesday\x04T': b'Di', b'Thursday\x04T': b'Do'})
  write_mo(messages / 'iso_639.mo', {b'': HEADER, b'German': b'Deutsch'})  # a name table
  (messages / 'net-tools.mo').write_bytes(b'not a catalog')  # unreadable: skipped
  monkeypatch.setenv(system_translations.ENV_VAR, str(tmp_path))
  return tmp_path


def test_pairs_merge_catalogs_filter_and_skip_name_tables(locale_dir):
  pairs = system_translations.pairs('de')
  assert len(pairs) == 62 and ('Row 7 deleted', 'Zeile 7 gelöscht (de)') in pairs
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


@pytest.mark.skipif(not GERMAN_CATALOGS, reason='no German gettext catalogs in '
                    f'{system_translations.DEFAULT_DIR}/de/LC_MESSAGES on this machine')
def test_this_machines_catalogs_give_clean_pairs(monkeypatch):
  # How many depends on the software installed: the properties do not.
  monkeypatch.delenv(system_translations.ENV_VAR, raising=False)
  pairs = system_translations.pairs('de')
  sources = [source for source, _ in pairs]
  assert sources == sorted(set(sources))  # sorted, one translation a source
  placeholder = gettext_pairs.PLACEHOLDER
  for source, target in pairs:
    assert source != target and source.strip() and target.strip()
    assert not placeholder.search(source) and not placeholder.search(target)
