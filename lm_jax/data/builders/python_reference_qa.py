"""TFDS builder `python_reference_qa`: SQuAD-style extractive QA whose contexts and answers are
the Python Library Reference's own text (Debian python3.X-doc), its questions templated."""

import os
import re
from collections.abc import Iterator
from typing import NamedTuple

import tensorflow_datasets as tfds

from lm_jax.data.builders import offline
from lm_jax.data.builders import qa_contexts
from lm_jax.data.builders import rst_text

ENV_VAR = 'LM_JAX_PYTHON_DOCS_DIR'  # names the `_sources` directory; its library/ is read
KINDS = frozenset({'function', 'method', 'classmethod', 'staticmethod', 'decorator', 'class',
                   'exception'})
_CLASSLIKE = frozenset({'class', 'exception'})  # Sphinx nests entries only in these
_DIRECTIVE = re.compile(r'^(\s*)\.\.\s+(?:py:)?([\w-]+)::(.*)$')
_OPTION = re.compile(r'^:[\w-]+:(\s|$)')
_FIELD = re.compile(r'^:[^:`]+:(\s|$)')  # ':param x: ...', a field list rather than prose
# Explicit markup; an index entry, label or comment (no directive name) renders as nothing.
_MARKUP = re.compile(r'^\.\.(?=\s|$)(?:\s+([\w:-]+)::)?')
_NAME = re.compile(r'[\w.]+')
# A sentence ends at '.', '!' or '?' before whitespace and a capital, a quote, a parenthesis
# or the markup that opens a literal, role or emphasis (split in the rst, where '*visibility*
# can be' still shows that a new sentence starts) ...
_SENTENCE_END = re.compile(r'(?<=[.!?])\s+(?=[A-Z`"\'*:(])')
# ... unless the word ending there is an abbreviation that introduces what follows ("e.g. Foo").
_ABBREVIATIONS = frozenset({'e.g.', 'i.e.', 'cf.', 'vs.', 'viz.', 'resp.', 'approx.'})
ANSWER_WORDS = (3, 30)
MAX_ENTRIES = 4  # per context, so that most contexts hold distractor entries
MAX_CONTEXT_CHARS = 1200  # a context stays under this: a few hundred tokens, like SQuAD's


class Entry(NamedTuple):
  kind: str
  name: str  # qualified: module.Class.meth
  module: str | None
  arguments: str | None  # of the first signature, None when it has no parentheses
  description: str  # the first paragraph, as rendered
  answer: str  # its first sentence


def source_dir() -> str:
  """The library/ directory of the first docs sources found ($LM_JAX_PYTHON_DOCS_DIR alone if
  set), or a FileNotFoundError saying how to install them."""
  if os.environ.get(ENV_VAR):
    candidates = [os.path.join(os.environ[ENV_VAR], 'library')]
  else:
    candidates = rst_text.doc_source_dirs('library')
  for directory in candidates:
    if rst_text.rst_pages(directory):  # any page but index.rst.txt
      return directory
  raise FileNotFoundError(
      'python_reference_qa reads the reStructuredText sources of the Python Library Reference, '
      f'found in none of {", ".join(candidates)}. Install them with `apt-get install '
      f'python3.11-doc` (Debian/Ubuntu; any python3.X-doc works), or point ${ENV_VAR} at a '
      'directory whose library/ holds them (the _sources of the HTML docs, or Doc/ of a '
      'CPython checkout).')


def page_name(path: str) -> str:
  """'.../library/xml.etree.elementtree.rst.txt' -> 'xml.etree.elementtree'."""
  return re.sub(r'(\.rst)?\.txt$', '', os.path.basename(path))


def _indent(line: str) -> int:
  return len(line) - len(line.lstrip())


def _header(lines: list[str], i: int, indent: int) -> tuple[list[str], dict[str, str], int]:
  """The signatures and options of the directive on line i, and the line after them.

  Further signatures follow on lines of their own; a trailing backslash continues one.
  """
  signatures = [_DIRECTIVE.match(lines[i]).group(3).strip()]
  options = {}
  i += 1
  while i < len(lines) and lines[i].strip() and _indent(lines[i]) > indent:
    line = lines[i].strip()
    if _OPTION.match(line):
      key, _, value = line[1:].partition(':')
      options[key] = value.strip()
    elif signatures[-1].endswith('\\'):
      signatures[-1] = signatures[-1][:-1] + ' ' + line
    else:
      signatures.append(line)
    i += 1
  return signatures, options, i


def _first_paragraph(lines: list[str], i: int, indent: int) -> str:
  """The first paragraph of the directive body from line i, on one line; '' when the body
  opens with something else (a nested directive, a doctest, a field list)."""
  paragraph = []
  while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
    line = lines[i].strip()
    if not line:
      if paragraph:
        break
    elif markup := _MARKUP.match(line):
      if paragraph or markup.group(1) not in (None, 'index'):
        break  # a nested directive ends the paragraph, or opens the body: no description
      own = _indent(lines[i])  # invisible: skip it and its block
      i += 1
      while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > own):
        i += 1
      continue
    elif not paragraph and (line.startswith('>>>') or _FIELD.match(line)):
      return ''
    else:
      paragraph.append(line)
    i += 1
  text = ' '.join(paragraph)
  if text.endswith('::'):  # 'Equivalent to::' renders as 'Equivalent to:'
    text = text[:-2] if text[:-2].endswith(' ') else text[:-1]
  return text


def _rendered(rst: str) -> str:
  return ' '.join(rst_text.clean_inline(rst).split())


def _arguments(signature: str) -> str | None:
  """'dumps(obj, *, skipkeys=False) -> str' -> 'obj, *, skipkeys=False'."""
  start = signature.find('(')
  if start < 0:
    return None
  depth = 0
  for end in range(start, len(signature)):
    depth += {'(': 1, ')': -1}.get(signature[end], 0)
    if depth == 0:
      return ' '.join(signature[start + 1:end].split())
  return ' '.join(signature[start + 1:].split())


def first_sentence(text: str) -> str:
  """The text up to its first sentence end (_SENTENCE_END), all of it when it has none."""
  for end in _SENTENCE_END.finditer(text):
    last_word = text[:end.start()].rsplit(None, 1)[-1].lstrip('(["\'').lower()
    if last_word not in _ABBREVIATIONS:
      return text[:end.start()]
  return text


def entries(text: str) -> Iterator[Entry]:
  """The API entries of a library page with a first paragraph, in page order."""
  lines = text.splitlines()
  module = None
  classes = []  # (indent, module, class path) of the enclosing classes
  for i, line in enumerate(lines):
    while line.strip() and classes and _indent(line) <= classes[-1][0]:
      classes.pop()  # the class's body has ended
    match = _DIRECTIVE.match(line)
    if not match:
      continue
    indent, kind = len(match.group(1)), match.group(2)
    if kind in ('module', 'currentmodule'):
      module = None if match.group(3).strip() in ('', 'None') else match.group(3).strip()
      continue
    if kind not in KINDS:
      continue
    signatures, options, body = _header(lines, i, indent)
    name = _NAME.match(signatures[0])
    if not name:
      continue
    name = name.group()
    entry_module, path = module, name
    if classes:  # as Sphinx: 'list.sort' nested in `.. class:: list` is not list.list.sort
      entry_module, outer = classes[-1][1:]
      path = name if name.startswith(outer + '.') else f'{outer}.{name}'
    if 'module' in options:  # ':module: ctypes.util'; an empty one: the name is complete
      entry_module = options['module'] or None
    if kind in _CLASSLIKE:
      classes.append((indent, entry_module, path))
    # 'os.path.join' under `.. module:: os.path` already names its module.
    qualified = path if not entry_module or path.startswith(entry_module + '.') else (
        f'{entry_module}.{path}')
    paragraph = _first_paragraph(lines, body, indent)
    # :noindex: marks a repeat of an entry documented elsewhere, or a placeholder.
    if not paragraph or 'noindex' in options:
      continue
    description, answer = _rendered(paragraph), _rendered(first_sentence(paragraph))
    if not description.startswith(answer):  # the sentence ended inside a literal
      answer = first_sentence(description)
    yield Entry(kind, qualified, entry_module, _arguments(signatures[0]), description, answer)


def render(entry: Entry) -> str:
  """The entry's line of a context: 'json.dumps(obj, *, ...): Serialize obj to ...'."""
  arguments = '' if entry.arguments is None else f'({entry.arguments})'
  decorator = '@' if entry.kind == 'decorator' else ''
  return f'{decorator}{entry.name}{arguments}: {entry.description}'


def question(entry: Entry) -> str:
  if entry.kind in _CLASSLIKE:
    return f'What is {entry.name}?'
  return f'What does {entry.name} do?'


def answerable(entry: Entry) -> bool:
  words = len(entry.answer.split())
  return (ANSWER_WORDS[0] <= words <= ANSWER_WORDS[1]
          and len(render(entry)) < MAX_CONTEXT_CHARS)


def chunks(page_entries: list[Entry]) -> Iterator[list[Entry]]:
  """Consecutive entries of one module, up to MAX_ENTRIES, their lines under MAX_CONTEXT_CHARS."""
  return qa_contexts.listing_chunks(page_entries, lambda entry: entry.module,
                                    lambda chunk: '\n'.join(map(render, chunk)), MAX_ENTRIES,
                                    MAX_CONTEXT_CHARS)


def examples(directory: str) -> Iterator[tuple[str, dict]]:
  """(page, example) of every answerable entry, page by page; a name documented twice (a
  function listed again on another page) keeps its first entry only."""
  seen = set()
  for path in rst_text.rst_pages(directory):  # sorted, so the first entry is fixed
    with open(path, encoding='utf-8') as f:
      text = f.read()
    page_entries = []
    for entry in entries(text):
      if entry.name not in seen and answerable(entry):
        seen.add(entry.name)
        page_entries.append(entry)
    for chunk in chunks(page_entries):
      context = '\n'.join(map(render, chunk))
      for entry in chunk:
        yield page_name(path), {'question': question(entry), 'context': context,
                                'answer': entry.answer, 'name': entry.name}


def _docs_version() -> str:
  try:
    directory = source_dir()
  except FileNotFoundError:
    return 'python3.X'
  found = re.search(r'python3\.\d+', directory)
  return found.group() if found else f'${ENV_VAR}'


class PythonReferenceQa(offline.OfflineBuilder):
  """Templated questions on the Python Library Reference, answered by its own sentences."""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Extractive QA in SQuAD v1.1 form on the Python Library Reference, parsed from the '
            'reStructuredText sources of Debian python3.X-doc (here the docs of '
            f'{_docs_version()}; or ${ENV_VAR}). The questions are templated, as in '
            'WikiReading or zsRE: "What does json.dumps do?" for a function, method or '
            'decorator, "What is collections.OrderedDict?" for a class or exception. The '
            'contexts and answers are real documentation text: a context is up to 4 '
            'consecutive API entries of one page and module, one line each '
            '("json.dumps(obj, *, ...): <first paragraph of its description>", roles and '
            'literals reduced to their text), under 1,200 characters; the answer is the first '
            'sentence (3-30 words) of the asked entry\'s description, an exact substring of '
            'the context. name: the qualified name asked about. Splits train/validation/test '
            '80/10/10 by a hash of the page, so a page is in one split.'),
        features=qa_contexts.features(),
        homepage='https://docs.python.org/3/library/',
        license='Python Software Foundation License Version 2 (PSF-2.0), as the '
        'Python documentation it is extracted from.',
    )

  def _keyed_examples(self):
    for page, example in examples(source_dir()):  # the sources are a Debian package
      yield offline.hash_split(page, offline.TRAIN_VALIDATION_TEST), example['name'], example


def prepare(data_dir: str | None = None) -> PythonReferenceQa:
  """Prepares `python_reference_qa` in `data_dir` if needed (offline, seconds) and returns the
  builder."""
  return offline.prepare(PythonReferenceQa(data_dir=data_dir))
