"""TFDS builder `python_faq`: question -> answer pairs of the Python FAQ, parsed from the
reStructuredText sources of Debian's `python3.X-doc` (PSF licence)."""

import os
import re
from collections.abc import Iterator

import tensorflow_datasets as tfds

from lm_jax.data.builders import offline
from lm_jax.data.builders import rst_text

ENV_VAR = 'LM_JAX_PYTHON_FAQ_DIR'
# A title is underlined (optionally also overlined) by one repeated punctuation character.
_ADORNMENT = re.compile(r'^([=\-~^"\'#*+_])\1{2,}\s*$')
# 'How do I delete a file? (And other file questions...)' is a question too.
_QUESTION_END = re.compile(r'\?\s*(\([^()]*\))?$')
# Titles without '?' that are still questions ("How do you remove multiple items from a list").
_INTERROGATIVES = frozenset({
    'how', 'what', 'why', 'when', 'where', 'which', 'who', 'is', 'are', 'can', 'do', 'does',
    'should', 'will', 'would'})
# Directives whose content is program text or its output, kept verbatim.
_CODE_DIRECTIVES = frozenset({'code-block', 'sourcecode', 'code', 'doctest', 'testcode',
                              'testoutput'})
# Directives whose content is prose the reader sees.
_PROSE_DIRECTIVES = frozenset({'note', 'seealso', 'warning', 'tip', 'important', 'caution',
                               'impl-detail', 'versionadded', 'versionchanged', 'deprecated'})
# Everything else after '..' (index, only, contents, highlight, testsetup, toctree, labels
# '.. _x:', comments) is markup the rendered page does not show as text; it is dropped.
_EXPLICIT_MARKUP = re.compile(r'^\.\.(?=\s|$)(?:\s+([\w-]+)::(.*))?')
_LIST_ITEM = re.compile(r'^(?:[*+-]|\(?(?:\d+|#)[.)])\s')
_LABEL = re.compile(r'^\.\. _([^:]+):\s*$')
_BARE_REF = re.compile(r':ref:`([^`<>]+)`')


def split_of(key: str) -> str:
  """'train' (85%) or 'validation' (15%), fixed by a hash of `key`."""
  return offline.hash_split(key, {'train': 85, 'validation': 15})


def _candidate_dirs() -> list[str]:
  """$LM_JAX_PYTHON_FAQ_DIR alone if set; else the FAQ sources of the docs packages."""
  if os.environ.get(ENV_VAR):
    return [os.environ[ENV_VAR]]
  return rst_text.doc_source_dirs('faq')


def source_dir() -> str:
  """The first candidate directory holding FAQ sources, or a FileNotFoundError saying how."""
  candidates = _candidate_dirs()
  for directory in candidates:
    if rst_text.rst_pages(directory):
      return directory
  raise FileNotFoundError(
      'python_faq reads the reStructuredText sources of the Python FAQ, found in none of '
      f'{", ".join(candidates)}. Install them with `apt-get install python3.11-doc` '
      f'(Debian/Ubuntu; any python3.X-doc works), or point ${ENV_VAR} at a directory '
      'holding the FAQ sources (Doc/faq/*.rst of a CPython checkout).')


def _indented_block(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
  """The lines from `start` indented deeper than `indent` (blank lines inside included),
  dedented, and the index after them."""
  end = start
  while end < len(lines) and (not lines[end].strip()
                              or len(lines[end]) - len(lines[end].lstrip()) > indent):
    end += 1
  while end > start and not lines[end - 1].strip():  # trailing blank lines end the block
    end -= 1
  block = lines[start:end]
  margin = min((len(l) - len(l.lstrip()) for l in block if l.strip()), default=0)
  return [l[margin:].rstrip() for l in block], end


def _code(lines: list[str]) -> str:
  return '\n'.join(lines).strip('\n')


def _prose(lines: list[str]) -> str:
  """One paragraph on one line (list items on a line each), whitespace collapsed."""
  items = []
  for line in lines:
    if not items or _LIST_ITEM.match(line.strip()):
      items.append(line.strip())
    else:
      items[-1] += ' ' + line.strip()
  return '\n'.join(' '.join(rst_text.clean_inline(item).split()) for item in items)


def blocks(lines: list[str]) -> Iterator[str]:
  """The rendered text of a section body: prose paragraphs, and code kept verbatim.

  Code is part of the answer (most "How do I ...?" answers are a snippet), so literal
  blocks (after '::'), doctest blocks and code directives are kept, dedented, as their own
  paragraphs; setup code hidden from the reader (testsetup) is not.
  """
  i = 0
  while i < len(lines):
    line = lines[i]
    if not line.strip():
      i += 1
      continue
    indent = len(line) - len(line.lstrip())
    markup = _EXPLICIT_MARKUP.match(line.strip())
    if markup:
      name, argument = markup.group(1), (markup.group(2) or '').strip()
      content, i = _indented_block(lines, i + 1, indent)
      if name in _CODE_DIRECTIVES:
        while content and content[0].startswith(':'):  # options such as :linenos:
          content.pop(0)
        if _code(content):
          yield _code(content)
      elif name in _PROSE_DIRECTIVES:
        yield from blocks(([argument] if argument else []) + content)
      continue
    paragraph = []
    while i < len(lines) and lines[i].strip():
      paragraph.append(lines[i])
      i += 1
    if paragraph[0].lstrip().startswith('>>>'):  # a doctest block
      yield _code([l[indent:].rstrip() for l in paragraph])
      continue
    last = paragraph[-1].rstrip()
    literal_follows = last.endswith('::')
    if literal_follows:
      # A literal block is indented past the text of its paragraph, which in a list item
      # starts after the bullet: the item's later paragraphs are not code.
      bullet = _LIST_ITEM.match(last.strip())
      text_indent = len(last) - len(last.lstrip()) + (len(bullet.group()) if bullet else 0)
      # 'Paragraph::' renders as 'Paragraph:', 'Paragraph ::' and a lone '::' as nothing.
      last = last[:-2]
      paragraph[-1] = last if last.endswith((' ', '\t')) or not last.strip() else last + ':'
    text = _prose(paragraph)
    if text:
      yield text
    if literal_follows:
      content, i = _indented_block(lines, i, text_indent)
      if _code(content):
        yield _code(content)


def _titles(lines: list[str]) -> list[tuple[int, int]]:
  """(first line, first body line) of every section title: a line of text underlined (and
  optionally overlined) by at least as many copies of one punctuation character."""
  titles = []
  for i in range(1, len(lines)):
    title = lines[i - 1]
    if (_ADORNMENT.match(lines[i]) and title.strip() and not _ADORNMENT.match(title)
        and not title.startswith(' ') and len(lines[i].rstrip()) >= len(title.rstrip())):
      overlined = i >= 2 and lines[i - 2].rstrip() == lines[i].rstrip()
      titles.append((i - 2 if overlined else i - 1, i + 1))
  return titles


def sections(text: str) -> Iterator[tuple[str, list[str]]]:
  """(title, body lines) of every section of an rst document, in order; the body runs to
  the next title of any level."""
  lines = text.splitlines()
  titles = _titles(lines)
  for n, (_, body_start) in enumerate(titles):
    body_end = titles[n + 1][0] if n + 1 < len(titles) else len(lines)
    yield lines[body_start - 2].strip(), lines[body_start:body_end]


def labels(text: str) -> dict[str, str]:
  """{label: title} of the '.. _label:' targets placed just before a section title."""
  found, lines = {}, text.splitlines()
  for start, body_start in _titles(lines):
    i = start - 1
    while i >= 0 and (not lines[i].strip() or _LABEL.match(lines[i])):
      if lines[i].strip():
        title = lines[body_start - 2].strip()
        found[_LABEL.match(lines[i]).group(1)] = rst_text.clean_inline(title)
      i -= 1
  return found


def resolve_refs(text: str, titles: dict[str, str]) -> str:
  """':ref:`label`' renders as the title of the section it names; labels outside the FAQ
  (other pages of the documentation) fall back to their words."""

  def titled(match: re.Match) -> str:
    label = match.group(1).strip()
    title = titles.get(label) or label.replace('-', ' ').replace('_', ' ')
    return f':ref:`{title} <{label}>`'

  return _BARE_REF.sub(titled, text)


def is_question(title: str) -> bool:
  words = title.split()
  return bool(_QUESTION_END.search(title)) or (
      bool(words) and words[0].lower() in _INTERROGATIVES)


def qa_pairs(text: str) -> Iterator[tuple[str, str]]:
  """(question, answer) of every question section with a non-empty answer."""
  for title, body in sections(text):
    question = ' '.join(rst_text.clean_inline(title).split())
    if not is_question(question):
      continue
    answer = '\n\n'.join(blocks(body)).strip()
    if answer:
      yield question, answer


def examples(directory: str) -> Iterator[tuple[str, dict]]:
  """(key, example) of every FAQ question in `directory`, file by file."""
  texts = {}
  for path in rst_text.rst_pages(directory):
    with open(path, encoding='utf-8') as f:
      texts[rst_text.section_name(path)] = f.read()
  titles = {}  # FAQ pages refer to each other's sections
  for text in texts.values():
    titles.update(labels(text))
  for section, text in texts.items():
    for question, answer in qa_pairs(resolve_refs(text, titles)):
      yield f'{section}::{question}', {'question': question, 'answer': answer,
                                       'section': section}


class PythonFaq(offline.OfflineBuilder):
  """Questions and answers of the Python FAQ."""

  SPLITS = ('train', 'validation')

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'The Python FAQ (docs.python.org/3/faq) as question -> answer pairs, parsed '
            'from the reStructuredText sources of Debian python3.X-doc (or '
            f'${ENV_VAR}). question: a section title ending in "?" (or starting with How/'
            'What/Why/...); answer: the section text up to the next title, roles, literals '
            'and links reduced to their text, index entries, labels and hidden setup code '
            'dropped, prose paragraphs on one line each, code blocks kept verbatim; '
            'section: the FAQ page (programming, library, ...). Splits train/validation '
            '85/15 by a hash of the question. The text depends on the documentation '
            'version that prepared it.'),
        features=tfds.features.FeaturesDict({
            'question': tfds.features.Text(),
            'answer': tfds.features.Text(),
            'section': tfds.features.Text(),
        }),
        homepage='https://docs.python.org/3/faq/',
        license='Python Software Foundation License Version 2 (PSF-2.0), as the '
        'Python documentation it is extracted from.',
    )

  def _keyed_examples(self):
    for key, example in examples(source_dir()):  # the sources are a Debian package
      yield split_of(example['question']), key, example


def prepare(data_dir: str | None = None) -> PythonFaq:
  """Prepares `python_faq` in `data_dir` if needed (offline, seconds) and returns the builder."""
  return offline.prepare(PythonFaq(data_dir=data_dir))
