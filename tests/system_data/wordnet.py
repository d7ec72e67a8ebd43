"""WordNet 3.0 data files (wndb(5WN)) of made-up synsets in every part of speech: what
wordnet_categories reads from Debian's wordnet-base, small enough to prepare in a second."""
import pathlib

# The real files open with the licence, in lines that start with two spaces (data.noun's first two).
HEADER = ('  1 This software and database is being provided to you, the LICENSEE, by  \n'
          '  2 Princeton University under the following license.  By obtaining, using  \n')
# File suffix -> (ss_type, the lex_filenums of its lexicographer files in lexnames(5WN)).
_PARTS_OF_SPEECH = {'noun': ('n', range(3, 29)), 'verb': ('v', range(29, 44)),
                    'adj': ('a', (0, 1, 44)), 'adv': ('r', (2,))}


def data_file(suffix: str, count: int) -> str:
  """`count` synset lines after the licence header, each at the byte offset its first field
  names (as in the real files), cycling through the lexicographer files of the part of speech;
  every synset but the first points to the first as its hypernym (`@`), verbs carry a frame."""
  ss_type, lex_filenums = _PARTS_OF_SPEECH[suffix]
  lines, offset = [HEADER], len(HEADER.encode())
  for i in range(count):
    words = f'{suffix}{i} 0 {suffix}_word_{i} 1'
    pointers = '000' if i == 0 else f'001 @ {len(HEADER.encode()):08d} {ss_type} 0000'
    frames = ' 01 + 02 00' if suffix == 'verb' else ''
    line = (f'{offset:08d} {lex_filenums[i % len(lex_filenums)]:02d} {ss_type} 02 {words} '
            f'{pointers}{frames} | the {suffix} sense number {i} of the fixture; '
            f'"an example of {suffix}{i}"  \n')
    lines.append(line)
    offset += len(line.encode())
  return ''.join(lines)


def write(directory: str, files: dict[str, str] | None = None, per_file: int = 100) -> str:
  """Writes data.<suffix> for each of `files` (default: data.noun, .verb, .adj and .adv of
  `per_file` made-up synsets each) into `directory`, made if needed; returns `directory`."""
  files = files or {suffix: data_file(suffix, per_file) for suffix in _PARTS_OF_SPEECH}
  path = pathlib.Path(directory)
  path.mkdir(parents=True, exist_ok=True)
  for suffix, text in files.items():
    (path / f'data.{suffix}').write_text(text, encoding='utf-8')
  return str(path)
