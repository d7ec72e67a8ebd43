"""The tokenizer of an imported Hugging Face GPT-2 or BERT checkpoint directory, read with the
`tokenizers` library behind the interface of the SentencePiece `Tokenizer` (tokenizer.py)."""

import json
import os
from collections.abc import Callable, Sequence

import tokenizers
from tokenizers import decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordPiece

ROLES = ('pad', 'eos', 'bos', 'unk', 'cls', 'sep', 'mask')
# Read in this order, so special_tokens_map.json wins, as in transformers' from_pretrained.
SPECIAL_TOKEN_FILES = ('tokenizer_config.json', 'special_tokens_map.json')
# The tokens of a role no file names, by the family's model type, as transformers' GPT2Tokenizer
# and BertTokenizer default them; used only when the vocabulary holds them.
FAMILY_TOKENS = {
    'BPE': {'bos': '<|endoftext|>', 'eos': '<|endoftext|>', 'unk': '<|endoftext|>'},
    'WordPiece': {'pad': '[PAD]', 'unk': '[UNK]', 'cls': '[CLS]', 'sep': '[SEP]',
                  'mask': '[MASK]'},
}


class HfTokenizer:
  """`encode`/`decode` between str and ids with a `tokenizers.Tokenizer`; special ids from
  `special_tokens` (role -> token, roles as in ROLES), which must name at least eos and pad;
  they are registered in `tokenizer` as special tokens."""

  def __init__(self, tokenizer: tokenizers.Tokenizer, special_tokens: dict[str, str | None],
               path: str | None = None):
    self._tok = tokenizer
    self._path = path
    # Special tokens are never split and `decode` skips them; a token the files name but the
    # vocabulary lacks gets the next id, as transformers does. Added tokens keep their flags.
    added = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    tokenizer.add_special_tokens([
        tokenizers.AddedToken(t, special=True, normalized=False)
        for t in dict.fromkeys(special_tokens.values()) if t and t not in added])
    self._ids = {role: tokenizer.token_to_id(special_tokens[role])
                 if special_tokens.get(role) else None for role in ROLES}
    self._tokens = special_tokens
    for role in ('eos', 'pad'):
      if self._ids[role] is None:
        raise ValueError(f'Tokenizer {path} has no {role} token; lm_jax needs eos and pad ids.')

  @property
  def vocab_size(self) -> int:
    return self._tok.get_vocab_size(with_added_tokens=True)

  @property
  def sp_vocab_size(self) -> int:
    return self.vocab_size  # no sentinels above the vocabulary

  @property
  def num_extra_ids(self) -> int:
    return 0

  @property
  def pad_id(self) -> int:
    return self._ids['pad']

  @property
  def eos_id(self) -> int:
    return self._ids['eos']

  @property
  def unk_id(self) -> int | None:
    return self._ids['unk']

  @property
  def bos_id(self) -> int | None:
    return self._ids['bos']

  @property
  def cls_id(self) -> int | None:
    return self._ids['cls']

  @property
  def sep_id(self) -> int | None:
    return self._ids['sep']

  @property
  def path(self) -> str | None:
    return self._path

  @property
  def mask_id(self) -> int:
    """BERT's [MASK], the id that replaces masked tokens in MLM."""
    if self._ids['mask'] is None:
      raise ValueError(f'Tokenizer {self._path} has no mask token (only BERT tokenizers have '
                       '[MASK]); masked-LM objectives need one.')
    return self._ids['mask']

  def sentinel_id(self, k: int) -> int:
    raise ValueError(f'sentinel {k}: Hugging Face GPT-2/BERT vocabularies have no T5 '
                     f'<extra_id_k> sentinels (tokenizer {self._path}).')

  def encode(self, text: str) -> list[int]:
    """Ids of `text`, without special tokens ([CLS]/[SEP], BOS/EOS)."""
    return self._tok.encode(text, add_special_tokens=False).ids

  def decode(self, ids: Sequence[int]) -> str:
    """Text of `ids` up to the first EOS; pads and other special tokens dropped."""
    kept = []
    for i in (int(i) for i in ids):
      if i == self.eos_id:
        break
      if i == self.pad_id:
        continue
      if not 0 <= i < self.vocab_size:
        raise ValueError(f'id {i} outside the vocabulary [0, {self.vocab_size})')
      kept.append(i)
    return self._tok.decode(kept, skip_special_tokens=True)

  def __repr__(self) -> str:
    return (f'HfTokenizer({self._path!r}, vocab_size={self.vocab_size}, '
            f'pad={self._tokens.get("pad")!r}, eos={self._tokens.get("eos")!r})')


def _read_json(path: str) -> dict:
  if not os.path.isfile(path):
    return {}
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def named_special_tokens(directory: str) -> dict[str, str | None]:
  """Role -> token as the files name it (`pad_token` etc.); an explicit null is kept as None."""
  named = {}
  for name in SPECIAL_TOKEN_FILES:
    config = _read_json(os.path.join(directory, name))
    for role in ROLES:
      if f'{role}_token' in config:
        value = config[f'{role}_token']
        named[role] = value.get('content') if isinstance(value, dict) else value  # AddedToken
  return named


def resolve_special_tokens(tokenizer: tokenizers.Tokenizer,
                           named: dict[str, str | None]) -> dict[str, str | None]:
  """Role -> token: `named`, then the family conventions for the roles the files leave out."""
  family = FAMILY_TOKENS.get(type(tokenizer.model).__name__, {})
  tokens = dict(named)
  for role in ROLES:
    if role not in tokens:
      token = family.get(role)
      tokens[role] = token if token and tokenizer.token_to_id(token) is not None else None
  if tokens['eos'] is None:
    tokens['eos'] = tokens['sep']  # BERT ends a sequence with [SEP]
  if tokens['pad'] is None:
    # GPT-2 has no pad token. HF's usual `tokenizer.pad_token = tokenizer.eos_token` pads with
    # eos, so padding must be told apart by position (attention mask, segment ids), not by id.
    tokens['pad'] = tokens['eos']
  return tokens


def _gpt2_bpe(directory: str, config: dict, named: dict) -> tokenizers.Tokenizer:
  """GPT-2's byte-level BPE from vocab.json + merges.txt, as transformers' GPT2Tokenizer."""
  tok = tokenizers.Tokenizer(BPE.from_file(os.path.join(directory, 'vocab.json'),
                                           os.path.join(directory, 'merges.txt')))
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(
      add_prefix_space=config.get('add_prefix_space', False))
  tok.decoder = decoders.ByteLevel()
  return tok


def _bert_wordpiece(directory: str, config: dict, named: dict) -> tokenizers.Tokenizer:
  """BERT's WordPiece from vocab.txt, as transformers' BertTokenizer."""
  unk = named.get('unk') or FAMILY_TOKENS['WordPiece']['unk']
  tok = tokenizers.Tokenizer(WordPiece.from_file(os.path.join(directory, 'vocab.txt'),
                                                 unk_token=unk, continuing_subword_prefix='##'))
  tok.normalizer = normalizers.BertNormalizer(
      clean_text=True, handle_chinese_chars=config.get('tokenize_chinese_chars', True),
      strip_accents=config.get('strip_accents'), lowercase=config.get('do_lower_case', True))
  tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  tok.decoder = decoders.WordPiece(prefix='##')
  return tok


def _from_tokenizer_json(directory: str, config: dict, named: dict) -> tokenizers.Tokenizer:
  tok = tokenizers.Tokenizer.from_file(os.path.join(directory, 'tokenizer.json'))
  # A saved tokenizer.json may carry the truncation (often 512) and padding of its last use;
  # `encode` returns a whole document's ids, unpadded, as transformers does without arguments.
  tok.no_truncation()
  tok.no_padding()
  return tok


# (files that must all exist, builder), in order of preference: the fast layout, then the slow
# layouts of GPT-2 and BERT.
LAYOUTS: tuple[tuple[tuple[str, ...], Callable], ...] = (
    (('tokenizer.json',), _from_tokenizer_json),
    (('vocab.json', 'merges.txt'), _gpt2_bpe),
    (('vocab.txt',), _bert_wordpiece),
)


def _layout(directory: str) -> tuple[tuple[str, ...], Callable] | None:
  for files, build in LAYOUTS:
    if all(os.path.isfile(os.path.join(directory, f)) for f in files):
      return files, build
  return None


def find_hf_tokenizer(directory: str) -> str | None:
  """Path of the tokenizer file `load_hf_tokenizer(directory)` would read first, or None."""
  layout = _layout(directory)
  return os.path.join(directory, layout[0][0]) if layout else None


def load_hf_tokenizer(directory: str) -> HfTokenizer:
  """The tokenizer in a Hugging Face checkpoint directory (see LAYOUTS)."""
  layout = _layout(directory)
  if layout is None:
    looked_for = ', '.join(' + '.join(files) for files, _ in LAYOUTS)
    raise FileNotFoundError(f'No Hugging Face tokenizer in {directory!r}: looked for '
                            f'{looked_for}.')
  files, build = layout
  config = _read_json(os.path.join(directory, 'tokenizer_config.json'))
  named = named_special_tokens(directory)
  tok = build(directory, config, named)
  path = os.path.join(directory, files[0])
  return HfTokenizer(tok, resolve_special_tokens(tok, named), path=path)


def tokenizer_directory(path: str) -> str | None:
  """The Hugging Face tokenizer directory `path` names (the directory, or one of its tokenizer
  files: tokenizer.json, vocab.json, merges.txt, vocab.txt), or None when it names none."""
  path = os.path.expanduser(path)
  known = {name for files, _ in LAYOUTS for name in files}
  if os.path.isfile(path) and os.path.basename(path) in known:
    path = os.path.dirname(path) or '.'
  return path if os.path.isdir(path) and _layout(path) is not None else None


def tokenizer_files(directory: str) -> list[str]:
  """The names of the files in `directory` that `load_hf_tokenizer` reads: what a copy of the
  tokenizer must hold for the same ids."""
  layout = _layout(directory)
  if layout is None:
    raise FileNotFoundError(f'No Hugging Face tokenizer in {directory!r}.')
  optional = [name for name in SPECIAL_TOKEN_FILES
              if os.path.isfile(os.path.join(directory, name))]
  return [*layout[0], *optional]
