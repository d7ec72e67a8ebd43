"""English -> translation pairs of compiled gettext catalogs (.mo), with the filters the
translation builders (django_translations, system_translations) share: singular messages only,
no placeholders, no untranslated, identical or ambiguous pairs."""

import collections
import gettext
import re
from collections.abc import Iterator

# printf-style (%s, %(name)s, %d, %%) and str.format ({}, {name}) placeholders: a model
# cannot learn what stands in them, and a metric cannot judge them.
PLACEHOLDER = re.compile(r'%(?:\([^)]*\))?[#0\- +]*\d*(?:\.\d+)?[a-zA-Z%]|\{[^{}]*\}')
# Runs of ASCII whitespace (line wraps, double spaces after a full stop); non-breaking
# spaces are kept because French typography needs them.
_SPACES = re.compile(r'[ \t\r\n]+')
# gettext joins a message context and its msgid with EOT in the compiled catalog.
_CONTEXT_SEPARATOR = '\x04'


def _normalise(text: str) -> str:
  return _SPACES.sub(' ', text).strip()


def catalog_pairs(path: str) -> Iterator[tuple[str, str]]:
  """(source, target) of every singular message of one .mo catalog that passes the filters.

  The .mo is what `msgfmt` compiled from a .po, so fuzzy entries are already out (and
  Django's shipped .po files have none). Plural entries are skipped: msgstr[0] is the
  singular only in some languages (Japanese and Chinese have one form for every count,
  Russian's form 0 also covers 21, 31, ...) and most carry a %(count)s placeholder.
  """
  with open(path, 'rb') as f:
    catalog = gettext.GNUTranslations(f)._catalog  # pylint: disable=protected-access
  for msgid, msgstr in catalog.items():
    if isinstance(msgid, tuple) or not msgid:  # (msgid, n): a plural form; '': the header
      continue
    source = _normalise(msgid.rpartition(_CONTEXT_SEPARATOR)[2])
    target = _normalise(msgstr)
    if (not target or source == target
        or PLACEHOLDER.search(source) or PLACEHOLDER.search(target)):
      continue
    yield source, target


def merged_pairs(paths, skip_unreadable: bool = False) -> list[tuple[str, str]]:
  """Deduplicated (source, target) pairs of the catalogs at `paths`, sorted by source.

  A source translated two ways (msgctxt 'one letter Tuesday' 'T' -> 'Di' and 'one letter
  Thursday' 'T' -> 'Do') is ambiguous once the context is gone, so it is dropped; the same
  translation under several contexts or catalogs is kept once. `skip_unreadable` passes over
  a catalog whose encoding gettext cannot tell (no charset header).
  """
  targets = collections.defaultdict(set)
  for path in paths:
    try:
      for source, target in catalog_pairs(path):
        targets[source].add(target)
    except (UnicodeDecodeError, OSError):
      if not skip_unreadable:
        raise
  return sorted((s, t.pop()) for s, t in targets.items() if len(t) == 1)
