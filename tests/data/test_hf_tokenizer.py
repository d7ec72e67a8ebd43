"""HfTokenizer against transformers' GPT-2 and BERT tokenizers on tiny tokenizers trained here,
saved in the fast (tokenizer.json) and slow (vocab.json + merges.txt, vocab.txt) layouts."""

import collections
import inspect
import json
import os
import string
import textwrap

import pytest
import tokenizers
import transformers
from tokenizers import decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, WordPiece
from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

from lm_jax.data.hf_tokenizer import find_hf_tokenizer, load_hf_tokenizer

EOT = '<|endoftext|>'
BERT_SPECIALS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]')
SAMPLE = [
    'Hello, world! The quick brown fox jumps over the lazy dog.',
    'naïve café — Ünïcödé façade, Ångström, résumé, ÉCOLE',
    'emoji 😀🎉👍🏽 and symbols ≥ ≤ ∑ → ©',
    'digits 1234567890 3.14159 1e-10 0x1F 2024-01-31',
    'def f(x):\n    if x > 0:\n        return x ** 2\n\treturn -x\n',
    'multiple   spaces\tand\ttabs  \n\n blank lines  ',
    'punctuation!?.,;:\'"()[]{}<>@#$%^&*-_=+\\|/~`',
    '中文字符和日本語のテキスト、한국어',
    "don't won't it's they're O'Neil",
    'special tokens in text: <|endoftext|> [MASK] [SEP]',
    ' leading space and trailing space ',
    'control\x07chars and\u200bzero width',
    '',
]


def _corpus() -> list[str]:
  """A few thousand lines of stdlib docstrings, plus the sample's scripts for the WordPiece
  alphabet."""
  lines = []
  for module in (str, dict, list, os, os.path, json, collections, string, textwrap, inspect):
    for name in sorted(dir(module)):
      doc = getattr(getattr(module, name), '__doc__', None)
      if isinstance(doc, str):
        lines.extend(doc.splitlines())
  return lines + SAMPLE[1:3] + SAMPLE[7:8]


def _write_json(path, obj):
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(obj, f, ensure_ascii=False)


def _gpt2_byte_level(tok):
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  return tok


@pytest.fixture(scope='module')
def gpt2_dirs(tmp_path_factory) -> dict[str, str]:
  """'slow': vocab.json + merges.txt alone, <|endoftext|> the last id as in GPT-2; 'fast': the
  same plus tokenizer.json (saved with truncation and padding on) and a tokenizer_config.json
  with `pad_token: null`."""
  bpe = _gpt2_byte_level(tokenizers.Tokenizer(BPE()))
  bpe.train_from_iterator(_corpus(), trainers.BpeTrainer(
      vocab_size=800, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
  dirs = {}
  for layout in ('slow', 'fast'):
    directory = str(tmp_path_factory.mktemp(f'gpt2_{layout}'))
    vocab_path, merges_path = bpe.model.save(directory)
    with open(vocab_path, encoding='utf-8') as f:
      vocab = json.load(f)
    _write_json(vocab_path, {**vocab, EOT: len(vocab)})
    dirs[layout] = directory
  fast = dirs['fast']
  tok = _gpt2_byte_level(tokenizers.Tokenizer(BPE.from_file(vocab_path, merges_path)))
  tok.add_special_tokens([tokenizers.AddedToken(EOT, special=True, normalized=False)])
  # A tokenizer.json can carry the truncation and padding of its last use; encode ignores them.
  tok.enable_truncation(16)
  tok.enable_padding(pad_id=800, pad_token=EOT, length=128)
  tok.save(os.path.join(fast, 'tokenizer.json'))
  _write_json(os.path.join(fast, 'tokenizer_config.json'), {
      'tokenizer_class': 'GPT2Tokenizer', 'add_prefix_space': False, 'pad_token': None,
      'eos_token': EOT, 'unk_token': EOT,
      'bos_token': {'content': EOT, 'lstrip': False, 'rstrip': False, 'normalized': True,
                    'single_word': False, '__type': 'AddedToken'}})
  return dirs


@pytest.fixture(scope='module')
def bert_dirs(tmp_path_factory) -> dict[str, str]:
  """'slow' (uncased) and 'cased': vocab.txt and tokenizer_config.json; 'fast': the same plus
  tokenizer.json and special_tokens_map.json. As in BERT, [PAD] is 0 and [UNK] follows
  [unused*] ids, so no special id is a small constant."""
  wordpiece = tokenizers.Tokenizer(WordPiece(unk_token='[UNK]'))
  wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
  wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  wordpiece.train_from_iterator(_corpus(), trainers.WordPieceTrainer(
      vocab_size=800, special_tokens=list(BERT_SPECIALS), show_progress=False))
  learned = sorted(wordpiece.get_vocab().items(), key=lambda item: item[1])[len(BERT_SPECIALS):]
  vocab = (['[PAD]'] + [f'[unused{i}]' for i in range(10)] + list(BERT_SPECIALS[1:])
           + [token for token, _ in learned])
  dirs = {}
  for layout, lower in (('slow', True), ('fast', True), ('cased', False)):
    directory = str(tmp_path_factory.mktemp(f'bert_{layout}'))
    with open(os.path.join(directory, 'vocab.txt'), 'w', encoding='utf-8') as f:
      f.write(''.join(token + '\n' for token in vocab))
    _write_json(os.path.join(directory, 'tokenizer_config.json'), {'do_lower_case': lower})
    dirs[layout] = directory
  fast = dirs['fast']
  tok = tokenizers.Tokenizer(WordPiece.from_file(os.path.join(fast, 'vocab.txt'),
                                                 unk_token='[UNK]'))
  tok.normalizer = normalizers.BertNormalizer(lowercase=True)
  tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  tok.decoder = decoders.WordPiece(prefix='##')
  tok.post_processor = processors.TemplateProcessing(
      single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1',
      special_tokens=[(t, vocab.index(t)) for t in ('[CLS]', '[SEP]')])
  tok.add_special_tokens(list(BERT_SPECIALS))
  tok.save(os.path.join(fast, 'tokenizer.json'))
  _write_json(os.path.join(fast, 'special_tokens_map.json'), {
      'pad_token': '[PAD]', 'unk_token': '[UNK]', 'cls_token': '[CLS]', 'sep_token': '[SEP]',
      'mask_token': {'content': '[MASK]', 'lstrip': False, 'rstrip': False,
                     'normalized': False, 'single_word': False}})
  return dirs


def _hf_ids(hf_tokenizer, text: str) -> list[int]:
  return hf_tokenizer(text, add_special_tokens=False)['input_ids']


@pytest.mark.parametrize('layout', ['slow', 'fast'])
def test_gpt2_ids_equal_transformers(gpt2_dirs, layout):
  ours = load_hf_tokenizer(gpt2_dirs[layout])
  # In transformers 5 GPT2TokenizerFast is GPT2Tokenizer; both read either layout.
  hf = transformers.GPT2TokenizerFast.from_pretrained(gpt2_dirs[layout])
  for text in SAMPLE + ['\n'.join(SAMPLE)]:
    assert ours.encode(text) == _hf_ids(hf, text), text
  assert ours.encode(SAMPLE[9]).count(ours.eos_id) == 1  # <|endoftext|> in text is never split
  assert ours.vocab_size == len(hf) == 801


@pytest.mark.parametrize('layout', ['slow', 'fast', 'cased'])
def test_bert_ids_equal_transformers(bert_dirs, layout):
  ours = load_hf_tokenizer(bert_dirs[layout])
  references = [transformers.BertTokenizerFast.from_pretrained(bert_dirs[layout])]
  if layout != 'fast':  # the pure-Python tokenizer, an implementation independent of `tokenizers`
    references.append(BertTokenizerLegacy.from_pretrained(bert_dirs[layout]))
  for hf in references:
    for text in SAMPLE + ['\n'.join(SAMPLE)]:
      assert ours.encode(text) == _hf_ids(hf, text), (type(hf).__name__, text)
    assert ours.vocab_size == len(hf)
  if layout == 'cased':  # do_lower_case read from tokenizer_config.json
    assert ours.encode('ÉCOLE') != load_hf_tokenizer(bert_dirs['slow']).encode('ÉCOLE')


def test_gpt2_special_ids(gpt2_dirs):
  for layout in ('slow', 'fast'):
    ours = load_hf_tokenizer(gpt2_dirs[layout])
    hf = transformers.GPT2TokenizerFast.from_pretrained(gpt2_dirs[layout])
    assert hf.pad_token_id is None  # GPT-2 has no pad token: ours pads with eos
    assert ours.eos_id == ours.pad_id == ours.bos_id == ours.unk_id == hf.eos_token_id == 800
    assert (ours.cls_id, ours.sep_id) == (None, None)
    assert (ours.num_extra_ids, ours.sp_vocab_size) == (0, ours.vocab_size)
    with pytest.raises(ValueError, match='no mask token'):
      ours.mask_id
    with pytest.raises(ValueError, match='no T5'):
      ours.sentinel_id(0)


def test_bert_special_ids(bert_dirs):
  for layout in ('slow', 'fast', 'cased'):
    ours = load_hf_tokenizer(bert_dirs[layout])
    hf = transformers.BertTokenizerFast.from_pretrained(bert_dirs[layout])
    assert (ours.pad_id, ours.unk_id, ours.cls_id, ours.sep_id, ours.mask_id) == (
        hf.pad_token_id, hf.unk_token_id, hf.cls_token_id, hf.sep_token_id, hf.mask_token_id)
    assert (ours.pad_id, ours.unk_id, ours.mask_id) == (0, 11, 14)
    assert ours.eos_id == ours.sep_id  # BERT ends a sequence with [SEP]
    assert ours.bos_id is None


def test_gpt2_decode_round_trip(gpt2_dirs):
  ours = load_hf_tokenizer(gpt2_dirs['slow'])
  for text in SAMPLE:
    if EOT not in text:
      assert ours.decode(ours.encode(text)) == text  # byte-level BPE is lossless
  ids = ours.encode(SAMPLE[0])
  assert ours.decode(ids + [ours.eos_id] + ours.encode(SAMPLE[1])) == SAMPLE[0]  # stops at eos
  assert ours.decode(ids + [ours.pad_id] * 3) == SAMPLE[0]
  with pytest.raises(ValueError, match='outside the vocabulary'):
    ours.decode([ours.vocab_size])


def test_bert_decode_round_trip(bert_dirs):
  ours = load_hf_tokenizer(bert_dirs['fast'])
  hf = transformers.BertTokenizerFast.from_pretrained(bert_dirs['fast'])
  for text in SAMPLE:
    ids = ours.encode(text)
    if '[SEP]' not in text:  # decode stops at [SEP] and drops [MASK]
      assert ours.encode(ours.decode(ids)) == ids, text
    assert ours.decode(ids) == hf.decode(ids, skip_special_tokens=True)
    framed = [ours.pad_id, ours.cls_id] + ids + [ours.sep_id] + ours.encode('more') + [0, 0]
    assert ours.decode(framed) == ours.decode(ids)  # pads and [CLS] dropped, stops at [SEP]


def test_find_prefers_tokenizer_json(gpt2_dirs, bert_dirs, tmp_path):
  assert find_hf_tokenizer(gpt2_dirs['fast']) == os.path.join(gpt2_dirs['fast'], 'tokenizer.json')
  assert find_hf_tokenizer(gpt2_dirs['slow']) == os.path.join(gpt2_dirs['slow'], 'vocab.json')
  assert find_hf_tokenizer(bert_dirs['slow']) == os.path.join(bert_dirs['slow'], 'vocab.txt')
  assert load_hf_tokenizer(bert_dirs['slow']).path == os.path.join(bert_dirs['slow'], 'vocab.txt')
  (tmp_path / 'vocab.json').write_text('{}')  # merges.txt missing: not a GPT-2 tokenizer
  assert find_hf_tokenizer(str(tmp_path)) is None
  with pytest.raises(FileNotFoundError) as error:
    load_hf_tokenizer(str(tmp_path))
  for name in ('tokenizer.json', 'vocab.json + merges.txt', 'vocab.txt', str(tmp_path)):
    assert name in str(error.value)


def test_needs_eos(tmp_path):
  (tmp_path / 'vocab.txt').write_text('[UNK]\na\nb\n')  # a WordPiece vocabulary with no [SEP]
  with pytest.raises(ValueError, match='no eos token'):
    load_hf_tokenizer(str(tmp_path))
