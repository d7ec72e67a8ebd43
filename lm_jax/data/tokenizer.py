"""SentencePiece tokenizer with T5's conventions (pad 0, eos 1, unk 2, `<extra_id_k>`
sentinels above the SentencePiece range), trained on the train split and cached."""

import io
import itertools
import os
import re
from collections.abc import Callable, Iterable, Sequence

import sentencepiece as spm

from lm_jax import atomic_files
from lm_jax.data import hf_tokenizer
from lm_jax.data import sources

PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
# Lines fed to the trainer: all of the embedded corpus (~45k), a bounded prefix of a
# large one (SentencePiece keeps its whole input in memory).
MAX_TRAIN_SENTENCES = 1_000_000
# Unigram training is bit-identical across runs for a fixed thread count but differs
# between thread counts, so the count is fixed rather than taken from the machine.
TRAIN_NUM_THREADS = 4
TRAIN_SEED = 0


class Tokenizer:
  """`encode`/`decode` between str and ids; sentinel ids count down from the top."""

  def __init__(self, model_proto: bytes, num_extra_ids: int, path: str | None = None):
    self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
    self._num_extra_ids = num_extra_ids
    self._path = path
    if (self._sp.pad_id(), self._sp.eos_id()) != (PAD_ID, EOS_ID):
      raise ValueError(
          f'SentencePiece model {path} has pad_id={self._sp.pad_id()}, '
          f'eos_id={self._sp.eos_id()}; lm_jax needs T5 ids pad={PAD_ID}, eos={EOS_ID}.')

  @property
  def vocab_size(self) -> int:
    return self._sp.vocab_size() + self._num_extra_ids

  @property
  def sp_vocab_size(self) -> int:
    return self._sp.vocab_size()

  @property
  def num_extra_ids(self) -> int:
    return self._num_extra_ids

  @property
  def pad_id(self) -> int:
    return PAD_ID

  @property
  def eos_id(self) -> int:
    return EOS_ID

  @property
  def unk_id(self) -> int:
    return self._sp.unk_id()

  @property
  def path(self) -> str | None:
    return self._path

  @property
  def mask_id(self) -> int:
    """The id that replaces masked tokens in MLM: `<extra_id_0>`, the one sentinel that
    T5's iid-noise objectives (`noise_token_to_sentinel`) use as a mask as well."""
    return self.sentinel_id(0)

  def sentinel_id(self, k: int) -> int:
    """Id of `<extra_id_k>`; `<extra_id_0>` is the top id, as in T5/seqio."""
    if not 0 <= k < self._num_extra_ids:
      raise ValueError(f'sentinel {k} out of range: num_extra_ids={self._num_extra_ids}')
    return self.vocab_size - 1 - k

  def encode(self, text: str) -> list[int]:
    """Ids of `text`, without EOS."""
    return self._sp.encode(text, out_type=int)

  def decode(self, ids: Sequence[int]) -> str:
    """Text of `ids` up to the first EOS; pads dropped, sentinels as `<extra_id_k>`."""
    pieces, run = [], []
    for i in (int(i) for i in ids):
      if i == EOS_ID:
        break
      if i == PAD_ID:
        continue
      if not 0 <= i < self.vocab_size:
        raise ValueError(f'id {i} outside the vocabulary [0, {self.vocab_size})')
      if i >= self.sp_vocab_size:
        pieces.append(self._sp.decode(run))
        pieces.append(f'<extra_id_{self.vocab_size - 1 - i}>')
        run = []
      else:
        run.append(i)
    pieces.append(self._sp.decode(run))
    return ''.join(pieces)

  def __repr__(self) -> str:
    return f'Tokenizer({self._path!r}, vocab_size={self.vocab_size})'


def load(path: str, num_extra_ids: int) -> 'Tokenizer | hf_tokenizer.HfTokenizer':
  """The tokenizer at `path`: a SentencePiece `.model` file, or a Hugging Face tokenizer
  directory or file (hf_tokenizer.py; `num_extra_ids` unused: it has no sentinels)."""
  hf_directory = hf_tokenizer.tokenizer_directory(path)
  if hf_directory is not None:
    return hf_tokenizer.load_hf_tokenizer(hf_directory)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f'Tokenizer not found: {path} (config.data.tokenizer_path must name a SentencePiece '
        '.model file, or a Hugging Face tokenizer directory or its tokenizer.json, vocab.json '
        'or vocab.txt).')
  with open(path, 'rb') as f:
    return Tokenizer(f.read(), num_extra_ids, path=path)


def _lines(texts: Iterable[str]) -> Iterable[str]:
  # SentencePiece trains on sentences and skips any over 4192 bytes, so documents are
  # split into lines; '\n' itself is then covered by the byte fallback.
  for text in texts:
    for line in text.split('\n'):
      if line.strip():
        yield line


def train(texts: Iterable[str], vocab_size: int) -> bytes:
  """A unigram SentencePiece model proto trained on `texts`, lossless on them."""
  spm.set_random_generator_seed(TRAIN_SEED)
  model = io.BytesIO()
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(itertools.islice(_lines(texts), MAX_TRAIN_SENTENCES)),
      model_writer=model,
      model_type='unigram',
      vocab_size=vocab_size,
      # Lossless round trip: NFKC (the default) rewrites ~14% of corpus lines, and
      # collapsing whitespace would destroy indentation.
      normalization_rule_name='identity',
      remove_extra_whitespaces=False,
      allow_whitespace_only_pieces=True,  # runs of indentation as one piece: -8% tokens
      byte_fallback=True,
      split_digits=True,
      pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=-1,
      shuffle_input_sentence=False,
      num_threads=TRAIN_NUM_THREADS,
      minloglevel=2,
  )
  return model.getvalue()


def cache_path(data_dir: str, dataset: str, vocab_size: int) -> str:
  name = re.sub(r'[^A-Za-z0-9._-]+', '_', dataset)
  return os.path.join(data_dir, 'lm_jax_tokenizers', f'{name}_{vocab_size}.model')


def cached_path(data_config, name: str) -> str:
  """Where `get_tokenizer` caches the tokenizer it trains for `data_config` under `name`."""
  return cache_path(sources.resolved_data_dir(data_config), name, data_config.tokenizer_vocab_size)


def get_tokenizer(data_config, train_texts: Callable[[], Iterable[str]],
                  name: str | None = None) -> 'Tokenizer | hf_tokenizer.HfTokenizer':
  """`config.data.tokenizer_path` if set, else one trained on `train_texts()` and cached
  in `<data_dir>/lm_jax_tokenizers/` under `name` (default `config.data.dataset`), reused by
  later runs."""
  if data_config.tokenizer_path:
    return load(data_config.tokenizer_path, data_config.num_extra_ids)
  path = cached_path(data_config, name or data_config.dataset)
  if not os.path.isfile(path):
    proto = train(train_texts(), data_config.tokenizer_vocab_size)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_files.write_bytes(path, proto)  # a concurrent or interrupted run sees all or nothing
  return load(path, data_config.num_extra_ids)
