"""A run's copy of its tokenizer: one SentencePiece `.model` file, or the files of a Hugging Face
tokenizer in a folder of their own; and whether two tokenizers are byte for byte the same."""
import os
import shutil

from lm_jax import atomic_files
from lm_jax.data import hf_tokenizer


def _contents(path: str) -> dict[str, bytes]:
  """File name -> bytes of the tokenizer at `path`: the files an HF tokenizer reads, or the one
  SentencePiece file (named '' so that its name, which a copy changes, does not count)."""
  directory = hf_tokenizer.tokenizer_directory(path)
  names = (hf_tokenizer.tokenizer_files(directory) if directory else [''])
  contents = {}
  for name in names:
    with open(os.path.join(directory, name) if directory else path, 'rb') as f:
      contents[name] = f.read()
  return contents


def same_tokenizer(a: str, b: str) -> bool:
  """Whether the tokenizers at `a` and `b` are the same files, so give tokens the same ids."""
  return _contents(a) == _contents(b)


def is_hf(path: str) -> bool:
  return hf_tokenizer.tokenizer_directory(path) is not None


def copy_tokenizer(source: str, sp_file: str, hf_folder: str) -> None:
  """Copies the tokenizer at `source` to `sp_file` (SentencePiece) or into `hf_folder` (HF,
  replacing what is there), each whole or not at all; a tokenizer already there stays."""
  directory = hf_tokenizer.tokenizer_directory(source)
  if directory is None:
    if os.path.abspath(source) != sp_file:
      atomic_files.replace_file(sp_file, lambda tmp: shutil.copyfile(source, tmp))
    return
  if os.path.abspath(directory) == hf_folder:
    return
  tmp = f'{hf_folder}.tmp.{os.getpid()}'
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  for name in hf_tokenizer.tokenizer_files(directory):
    shutil.copyfile(os.path.join(directory, name), os.path.join(tmp, name))
  # A folder cannot replace another in one rename: the old copy goes first. A kill in between
  # leaves no copy, and the run falls back to the tokenizer its config.json names.
  shutil.rmtree(hf_folder, ignore_errors=True)
  os.replace(tmp, hf_folder)
