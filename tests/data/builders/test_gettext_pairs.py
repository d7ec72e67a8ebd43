"""gettext_pairs: the filters on a hand-written catalog (placeholders, plurals, untranslated
and identical messages, message contexts)."""

import pytest

from lm_jax.data.builders import gettext_pairs
from system_data.gettext_catalogs import write_mo


def test_catalog_filters_placeholders_plurals_and_untranslated(tmp_path):
  path = tmp_path / 'django.mo'
  write_mo(path, {
      b'': b'Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n',
      b'Save': b'Sichern',
      b'Enter a valid\n  value.': b'Bitte einen  g\xc3\xbcltigen Wert eingeben.',
      b'abbrev. month\x04May': b'Mai',
      b'%(name)s saved.': b'%(name)s gesichert.',
      b'Hello {user}': b'Hallo {user}',
      b'Error: %s': b'Fehler: %s',
      b'Email': b'Email',  # identical to the source
      b'Untranslated': b'',
      b'entry\x00entries': b'Eintrag\x00Eintr\xc3\xa4ge',  # a plural entry
  })
  assert sorted(gettext_pairs.catalog_pairs(str(path))) == [
      ('Enter a valid value.', 'Bitte einen gültigen Wert eingeben.'),
      ('May', 'Mai'),
      ('Save', 'Sichern'),
  ]


@pytest.mark.parametrize('text', ['%s', '%(count)d items', '%.2f', '{}', '{0} and {name}', '100%%'])
def test_placeholder_pattern_finds_printf_and_format_fields(text):
  assert gettext_pairs.PLACEHOLDER.search(text)
