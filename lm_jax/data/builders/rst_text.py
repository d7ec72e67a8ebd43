"""The Python documentation's reStructuredText sources as python_faq and python_reference_qa read
them: where Debian's `python3.X-doc` installs them, their pages, and inline markup reduced to the
text a reader sees."""

import glob
import os
import re
import sys

DOC_ROOT = '/usr/share/doc'
# One alternation so that the leftmost construct wins: ``*args`` stays a literal, not emphasis.
_INLINE = re.compile(
    r'``(?P<literal>.+?)``'
    r'|:(?P<role>[\w-]+(?::[\w-]+)?):`(?P<role_text>[^`]+)`'
    r'|`(?P<link>[^`]+)`_{0,2}'
    r'|\*\*(?P<strong>[^*]+)\*\*'
    r'|(?<![\w*])\*(?P<emphasis>[^*\s](?:[^*]*[^*\s])?)\*(?![\w*])'
    r'|\\(?P<escaped>.)')
_EXPLICIT_TITLE = re.compile(r'^(.*?)\s*<[^<>]*>$')


def doc_source_dirs(part: str) -> list[str]:
  """The `part` ('faq', 'library') of the docs' rst sources: of this Python's version first,
  then of other python3.X docs packages, newest first."""
  version = f'python{sys.version_info.major}.{sys.version_info.minor}'
  pattern = os.path.join(DOC_ROOT, 'python3.*', 'html', '_sources', part)
  others = [d for d in glob.glob(pattern)
            if re.fullmatch(r'python3\.\d+', d.split(os.sep)[-4]) and version not in d]
  others.sort(key=lambda d: int(d.split(os.sep)[-4].split('.')[1]), reverse=True)
  return [os.path.join(DOC_ROOT, version, 'html', '_sources', part)] + others


def rst_pages(directory: str) -> list[str]:
  """The rst source pages of `directory` (a docs part: faq/, library/) but its index, sorted;
  Sphinx names them x.rst.txt (older: x.txt)."""
  files = glob.glob(os.path.join(directory, '*.rst.txt')) or glob.glob(
      os.path.join(directory, '*.txt'))
  return sorted(f for f in files if section_name(f) != 'index')


def section_name(path: str) -> str:
  """'.../faq/programming.rst.txt' -> 'programming'."""
  return os.path.basename(path).split('.')[0]


def clean_inline(text: str) -> str:
  """Text as rendered: roles, literals, links and emphasis reduced to their words."""

  def plain(match: re.Match) -> str:
    groups = match.groupdict()
    if groups['literal'] is not None:
      return groups['literal']
    if groups['role'] is not None:
      role, target = groups['role'], groups['role_text']
      title = _EXPLICIT_TITLE.match(target)
      if title:
        return title.group(1)
      if role in ('pep', 'rfc'):
        return f'{role.upper()} {target}'
      target = target.lstrip('!')
      # ':meth:`~object.__del__`' renders as the last component: '__del__'.
      return target[1:].rsplit('.', 1)[-1] if target.startswith('~') else target
    if groups['link'] is not None:
      title = _EXPLICIT_TITLE.match(groups['link'])
      return title.group(1) if title else groups['link']
    if groups['escaped'] is not None:  # 'Py_DECREF\ ing' -> 'Py_DECREFing'
      return '' if groups['escaped'].isspace() else groups['escaped']
    return groups['strong'] if groups['strong'] is not None else groups['emphasis']

  return _INLINE.sub(plain, text)
