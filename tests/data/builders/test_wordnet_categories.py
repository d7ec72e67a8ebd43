"""wordnet_categories: the data-file parser and the builder on fixture files in WordNet's
format, then light checks of the installed WordNet 3.0 (prepared in full it takes ~20 s)."""

import collections
import gzip
import os
import re

import pytest

from lm_jax.data.builders import wordnet_categories as wn
from system_data import WORDNET_PACKAGE, wordnet
from system_data.wordnet import HEADER

SPLITS = ('train', 'validation', 'test')
REAL_DIR_MISSING = not all(
    os.path.isfile(os.path.join(wn.DEFAULT_DIR, f'data.{suffix}')) for suffix in wn.POS_FILES)
LEXNAMES_MAN_PAGE = '/usr/share/man/man5/lexnames.5WN.gz'

# Real lines of WordNet 3.0 (Princeton licence) after the licence header.
FIXTURE = {
    'noun': HEADER + (
        '01313888 05 n 01 recombinant 0 002 @ 00006484 n 0000 @ 00004475 n 0000 | a cell or '
        'organism in which genetic recombination has occurred  \n'
        '00196485 04 n 03 substitution 0 exchange 1 commutation 2 003 @ 00191142 n 0000 + '
        '00553407 v 0301 ~ 00197772 n 0000 | the act of putting one thing or person in the '
        'place of another: "he sent Smith in for Jones but the substitution came too late"  \n'
        '00074790 04 n 0b blunder 0 blooper 0 bloomer 0 bungle 0 pratfall 0 foul-up 0 fuckup 0 '
        'flub 0 botch 0 boner 0 boo-boo 0 001 @ 00070965 n 0000 | an embarrassing mistake  \n'
        '00041614 04 n 01 boondoggle 0 002 @ 00742645 n 0000 + 02447247 v 0101 | work of '
        'little or no value done merely to look busy  \n'),
    'verb': HEADER + (
        '01833735 38 v 02 hit_the_dirt 0 hit_the_deck 0 001 @ 01831549 v 0000 01 + 02 00 | '
        'fall or drop suddenly, usually to evade some danger; "The soldiers hit the dirt when '
        'they heard gunfire"  \n'),
    'adj': HEADER + (
        '00014358 00 s 02 abounding 0 galore(ip) 0 001 & 00013887 a 0000 | existing in '
        'abundance; "abounding confidence"; "whiskey galore"  \n'
        '03147282 44 a 01 avenged 0 002 ! 03147409 a 0101 < 01153504 v 0102 | for which '
        'vengeance has been taken; "an avenged injury"  \n'),
    'adv': HEADER + (
        '00001837 02 r 03 AD 0 A.D. 0 anno_Domini 0 000 | in the Christian era; used before '
        'dates after the supposed year Christ was born; "in AD 200"  \n'),
}
EXPECTED = {
    '01313888-n': ('a cell or organism in which genetic recombination has occurred',
                   'recombinant', 'noun.animal'),
    '00196485-n': ('the act of putting one thing or person in the place of another',
                   'substitution, exchange, commutation', 'noun.act'),
    '00074790-n': ('an embarrassing mistake', 'blunder, blooper, bloomer, bungle, pratfall, '
                   'foul-up, fuckup, flub, botch, boner, boo-boo', 'noun.act'),
    '00041614-n': ('work of little or no value done merely to look busy', 'boondoggle',
                   'noun.act'),
    '01833735-v': ('fall or drop suddenly, usually to evade some danger',
                   'hit the dirt, hit the deck', 'verb.motion'),
    '00014358-a': ('existing in abundance', 'abounding, galore', 'adj.all'),
    '03147282-a': ('for which vengeance has been taken', 'avenged', 'adj.ppl'),
    '00001837-r': ('in the Christian era; used before dates after the supposed year Christ was '
                   'born', 'AD, A.D., anno Domini', 'adv.all'),
}


@pytest.fixture
def fixture_dir(tmp_path, monkeypatch):
  directory = wordnet.write(str(tmp_path / 'wordnet'), FIXTURE)
  monkeypatch.setenv(wn.ENV_VAR, directory)
  return directory


def test_header_lines_are_skipped():
  assert wn.parse_data_line(HEADER.splitlines(keepends=True)[0], 'n') is None


def test_parser_reads_definitions_lemmas_and_categories(fixture_dir):
  parsed = {key: (x['definition'], x['lemmas'], wn.LEXNAMES[x['category']])
            for key, x in wn.iter_synsets(wn.source_dir())}
  assert parsed == EXPECTED


def test_lexnames_are_the_45_files_in_lex_filenum_order():
  assert len(wn.LEXNAMES) == len(set(wn.LEXNAMES)) == 45
  assert (wn.LEXNAMES[0], wn.LEXNAMES[3], wn.LEXNAMES[29], wn.LEXNAMES[44]) == (
      'adj.all', 'noun.Tops', 'verb.body', 'adj.ppl')


@pytest.mark.skipif(not os.path.exists(LEXNAMES_MAN_PAGE),
                    reason=f'WordNet man pages absent: apt-get install {WORDNET_PACKAGE}')
def test_lexnames_match_the_lexnames_man_page():
  with gzip.open(LEXNAMES_MAN_PAGE, 'rt') as f:
    table = re.findall(r'^(\d\d)\t(\S+)\s*\t', f.read(), flags=re.MULTILINE)
  assert tuple(name for _, name in sorted(table, key=lambda row: int(row[0]))) == wn.LEXNAMES


def test_builder_on_fixture_files(fixture_dir, tmp_path):
  builder = wn.prepare(str(tmp_path / 'tfds'))
  assert builder.info.file_format.value == 'array_record'
  assert builder.info.features['category'].names == list(wn.LEXNAMES)
  read = {}
  for split in SPLITS:
    for record in builder.as_data_source(split=split):
      key = next(k for k, v in EXPECTED.items() if v[0] == record['definition'].decode())
      assert wn.split_of(key) == split
      read[key] = (record['definition'].decode(), record['lemmas'].decode(),
                   wn.LEXNAMES[record['category']])
  assert read == EXPECTED
  assert {wn.split_of(key) for key in EXPECTED} == set(SPLITS)  # TFDS writes no empty split


def test_missing_source_names_the_package_and_variable(tmp_path, monkeypatch):
  monkeypatch.setenv(wn.ENV_VAR, str(tmp_path))
  with pytest.raises(FileNotFoundError, match=f'apt-get install wordnet-base.*{wn.ENV_VAR}'):
    wn.source_dir()


@pytest.mark.skipif(REAL_DIR_MISSING, reason=f'WordNet data files absent from {wn.DEFAULT_DIR}: '
                    f'apt-get install {WORDNET_PACKAGE}')
def test_installed_wordnet(monkeypatch):
  monkeypatch.delenv(wn.ENV_VAR, raising=False)
  synsets = list(wn.iter_synsets(wn.source_dir()))
  assert len(synsets) == 117659  # the synset count of WordNet 3.0
  assert len({key for key, _ in synsets}) == len(synsets)
  categories = collections.Counter(x['category'] for _, x in synsets)
  assert sorted(categories) == list(range(45))
  prefix = {'n': 'noun.', 'v': 'verb.', 'a': 'adj.', 'r': 'adv.'}
  for key, example in synsets:
    assert wn.LEXNAMES[example['category']].startswith(prefix[key[-1]])
    assert example['definition'] and '_' not in example['lemmas']
  splits = collections.Counter(wn.split_of(key) for key, _ in synsets)
  assert 0.79 < splits['train'] / len(synsets) < 0.81
  assert 0.09 < splits['test'] / len(synsets) < 0.11
