"""The PEP8 corpus (`python_code`, lm_jax/data/builders/python_code.py) in numbers: files, lines
and characters per split and per source, the share of lines with a PEP8 violation, and the share
of documents that Korbak et al.'s filtering threshold (a document score above 0.002361,
calibrated on codeparrot) would drop here.

  python experiments/python_code_stats.py [--data_dir=...]

Scores every file with lm_jax.preference's PEP8 scorer (a few minutes on 2 cores) and prints
markdown tables.
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from lm_jax.data import tokenizer as tokenizer_lib  # noqa: E402
from lm_jax.data.builders import python_code  # noqa: E402
from lm_jax.preference import get_scorer  # noqa: E402

_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data dir (default: TFDS\'s own).')
_VOCAB = flags.DEFINE_integer('tokenizer_vocab_size', 8000,
                              'Tokens are counted with a SentencePiece model of this size trained '
                              'on the train split, as lm_jax.main trains one (0: no tokens).')
# Korbak et al. 2023, Table 2 (PEP8, Filtering): documents scoring above it are dropped.
FILTER_THRESHOLD = 0.002361


def main(argv):
  del argv
  builder = python_code.prepare(_DATA_DIR.value)
  scorer = get_scorer('pep8')
  tokenizer = None
  if _VOCAB.value:
    train_texts = (r['text'].decode('utf-8') if isinstance(r['text'], bytes) else r['text']
                   for r in builder.as_data_source(split='train'))
    tokenizer = tokenizer_lib.Tokenizer(tokenizer_lib.train(train_texts, _VOCAB.value), 0)
  lossless = True
  by_split = collections.defaultdict(collections.Counter)
  by_source = collections.defaultdict(collections.Counter)
  for split in builder.info.splits:
    for record in builder.as_data_source(split=split):
      text, path = record['text'], record['path']
      text = text.decode('utf-8') if isinstance(text, bytes) else text
      path = path.decode('utf-8') if isinstance(path, bytes) else path
      document = scorer.score_document(text)
      counts = collections.Counter(
          files=1, lines=len(document.lines), chars=len(text),
          bad_lines=sum(v > 0 for v in document.violations),
          violations=sum(document.violations),
          filtered=int(document.score > FILTER_THRESHOLD))
      if tokenizer is not None:
        ids = tokenizer.encode(text)
        counts['tokens'] = len(ids)
        lossless = lossless and tokenizer.decode(ids) == text
      by_split[split].update(counts)
      by_source[path.split('/')[0]].update(counts)
  print(builder.info.description)
  if tokenizer is not None:
    print(f'Tokens: a {_VOCAB.value}-piece SentencePiece model trained on the train split; '
          f'decode(encode(file)) == file for every file: {lossless}.')
  for title, table in (('split', by_split), ('source', by_source)):
    total = sum(table.values(), collections.Counter())
    print(f'\n| {title} | files | lines | characters | tokens | violations | lines with a '
          f'violation | files above {FILTER_THRESHOLD} |')
    print('|---|---|---|---|---|---|---|---|')
    for name, c in [*sorted(table.items()), ('all', total)]:
      print(f"| {name} | {c['files']:,} | {c['lines']:,} | {c['chars']:,} | {c['tokens']:,} | "
            f"{c['violations']:,} | {100 * c['bad_lines'] / max(c['lines'], 1):.2f}% | "
            f"{100 * c['filtered'] / max(c['files'], 1):.1f}% |")


if __name__ == '__main__':
  app.run(main)
