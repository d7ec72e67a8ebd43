"""TFDS builder `wordnet_categories`: WordNet 3.0 synset definitions -> the 45 lexicographer
categories (noun.animal, verb.motion, ...), read from Debian's `wordnet-base` data files."""

import os
import re
from collections.abc import Iterator

import tensorflow_datasets as tfds

from lm_jax.data.builders import offline

ENV_VAR = 'LM_JAX_WORDNET_DIR'
DEFAULT_DIR = '/usr/share/wordnet'
# File suffix -> the part of speech every synset key carries (offsets are unique per file).
POS_FILES = {'noun': 'n', 'verb': 'v', 'adj': 'a', 'adv': 'r'}
# lexnames(5WN): the lexicographer file names, indexed by the lex_filenum of a synset line.
LEXNAMES = (
    'adj.all', 'adj.pert', 'adv.all', 'noun.Tops', 'noun.act', 'noun.animal', 'noun.artifact',
    'noun.attribute', 'noun.body', 'noun.cognition', 'noun.communication', 'noun.event',
    'noun.feeling', 'noun.food', 'noun.group', 'noun.location', 'noun.motive', 'noun.object',
    'noun.person', 'noun.phenomenon', 'noun.plant', 'noun.possession', 'noun.process',
    'noun.quantity', 'noun.relation', 'noun.shape', 'noun.state', 'noun.substance', 'noun.time',
    'verb.body', 'verb.change', 'verb.cognition', 'verb.communication', 'verb.competition',
    'verb.consumption', 'verb.contact', 'verb.creation', 'verb.emotion', 'verb.motion',
    'verb.perception', 'verb.possession', 'verb.social', 'verb.stative', 'verb.weather',
    'adj.ppl')
# The examples in a gloss follow the definition as '; "..."' (sometimes ': "..."').
_EXAMPLES = re.compile(r'[;:]\s*"')
# Adjective position markers glued to a word in data.adj: able(a), galore(ip), aforesaid(p).
_ADJECTIVE_MARKER = re.compile(r'\((?:a|p|ip)\)$')


def split_of(key: str) -> str:
  """'train' (80%), 'validation' (10%) or 'test' (10%), fixed by a hash of `key`."""
  return offline.hash_split(key, offline.TRAIN_VALIDATION_TEST)


def source_dir() -> str:
  """The directory holding data.{noun,verb,adj,adv}: $LM_JAX_WORDNET_DIR or Debian's."""
  directory = os.environ.get(ENV_VAR) or DEFAULT_DIR
  missing = [f'data.{suffix}' for suffix in POS_FILES
             if not os.path.isfile(os.path.join(directory, f'data.{suffix}'))]
  if missing:
    raise FileNotFoundError(
        f'wordnet_categories reads the WordNet 3.0 database files, and {directory} lacks '
        f'{", ".join(missing)}. Install them with `apt-get install wordnet-base` (Debian/'
        f'Ubuntu), or point ${ENV_VAR} at a directory holding data.noun, data.verb, '
        'data.adj and data.adv of WordNet 3.0.')
  return directory


def parse_data_line(line: str, pos: str) -> tuple[str, dict] | None:
  """(key, example) of one synset line of a data file (wndb(5WN)); None for a header line.

  A line reads `offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptrs...]
  [frames...] | gloss`; w_cnt is two hex digits.
  """
  if line.startswith('  ') or not line.strip():  # the licence header
    return None
  fields, separator, gloss = line.partition(' | ')
  if not separator:
    raise ValueError(f'Not a WordNet synset line (no " | " before the gloss): {line[:80]!r}')
  offset, lex_filenum, _, word_count, *rest = fields.split()
  words = rest[:2 * int(word_count, 16):2]
  lemmas = [_ADJECTIVE_MARKER.sub('', word).replace('_', ' ') for word in words]
  definition = _EXAMPLES.split(gloss.strip(), maxsplit=1)[0].strip().rstrip(';').strip()
  return f'{offset}-{pos}', {'definition': definition, 'lemmas': ', '.join(lemmas),
                            'category': int(lex_filenum)}


def iter_synsets(directory: str) -> Iterator[tuple[str, dict]]:
  """(key, example) of every synset with a definition, file by file in POS_FILES order."""
  for suffix, pos in POS_FILES.items():
    with open(os.path.join(directory, f'data.{suffix}'), encoding='utf-8') as f:
      for line in f:
        parsed = parse_data_line(line, pos)
        if parsed is not None and parsed[1]['definition']:
          yield parsed


class WordnetCategories(offline.OfflineBuilder):
  """WordNet synset definitions labelled with their lexicographer file."""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Every synset of WordNet 3.0 (nouns, verbs, adjectives, adverbs; read from the '
            f'data.* files of Debian wordnet-base, or ${ENV_VAR}). definition: the gloss '
            'without its quoted examples; lemmas: the synset words, comma-separated, '
            'underscores as spaces, adjective markers such as (a) removed; category: the '
            'lexicographer file (lexnames(5WN)), 45 classes. Splits 80/10/10 by a hash of '
            'the synset offset and part of speech.'),
        features=tfds.features.FeaturesDict({
            'definition': tfds.features.Text(),
            'lemmas': tfds.features.Text(),
            'category': tfds.features.ClassLabel(names=LEXNAMES),
        }),
        homepage='https://wordnet.princeton.edu/',
        license='WordNet 3.0 licence (Princeton University): use, copy, modify and '
        'distribute for any purpose without fee, keeping the copyright notice.',
        citation='George A. Miller (1995). WordNet: A Lexical Database for English. '
        'Communications of the ACM 38(11): 39-41.',
    )

  def _keyed_examples(self):
    for key, example in iter_synsets(source_dir()):  # the database is a Debian package
      yield split_of(key), key, example


def prepare(data_dir: str | None = None) -> WordnetCategories:
  """Prepares `wordnet_categories` in `data_dir` if needed and returns the builder."""
  return offline.prepare(WordnetCategories(data_dir=data_dir))
