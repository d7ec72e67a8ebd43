"""The resumable token stream every objective reads: documents in a per-epoch permutation,
tokenized, with the tokens not yet consumed carried over, and a JSON-serialisable position."""

from collections.abc import Sequence

import numpy as np


class TokenStream:
  """Tokens of the documents of `source`, read in order of a permutation seeded by
  `(seed, epoch)` (or in source order without `shuffle`).

  With `append_eos` every document is followed by EOS, so document boundaries stay
  visible in the stream; without it documents are concatenated with no separator (T5's
  `reduce_concat_tokens`). Tokens read but not yet taken are the carry: they pass into
  the next epoch with `repeat`, and end the stream without it. Documents are tokenized
  when first needed, so the state is just (epoch, next document, carry). A reader uses
  one of `take` (a continuous stream) and `take_from_document` (document by document).
  """

  def __init__(self, source: Sequence[str], tokenizer, seed: int, shuffle: bool = True,
               repeat: bool = True, append_eos: bool = False):
    if len(source) == 0:
      raise ValueError(f'The text source {source!r} is empty.')
    if seed < 0:
      raise ValueError(f'seed must be non-negative, got {seed}.')
    self.source = source
    self.tokenizer = tokenizer
    self.seed = seed
    self.shuffle = shuffle
    self.repeat = repeat
    self.append_eos = append_eos
    self._order_epoch, self._order = None, None
    self._empty_documents_in_a_row = 0
    self.set_state({'epoch': 0, 'doc_index': 0, 'carry_tokens': []})

  @property
  def epoch(self) -> int:
    """The epoch of the last document read (objectives seed their rngs with it)."""
    return self._epoch

  def get_state(self) -> dict:
    return {
        'epoch': self._epoch,
        'doc_index': self._doc_index,
        'carry_tokens': [int(t) for t in self._carry],
    }

  def set_state(self, state: dict) -> None:
    self._epoch = int(state['epoch'])
    self._doc_index = int(state['doc_index'])
    self._carry = [int(t) for t in state['carry_tokens']]

  def take(self, n: int) -> list[int]:
    """The next `n` tokens, across document boundaries; fewer only at the end of a
    non-repeating pass, and [] once it is exhausted."""
    while len(self._carry) < n:
      if not self._read_document():
        break
    return self._pop(n)

  def take_from_document(self, n: int) -> list[int]:
    """At most `n` tokens of one document: the rest of the current one, else the next.
    [] once a non-repeating pass is exhausted."""
    # The carry only ever holds one document's tokens when read through this method, as
    # a new document is read only once the carry is empty.
    while not self._carry:
      if not self._read_document():
        return []
    return self._pop(n)

  def _pop(self, n: int) -> list[int]:
    tokens = self._carry[:n]
    del self._carry[:n]
    return tokens

  def _read_document(self) -> bool:
    """Appends the next document's tokens to the carry; False at the end of a single pass."""
    if self._doc_index == len(self.source):
      if not self.repeat:
        return False
      self._epoch += 1
      self._doc_index = 0
    doc = int(self._document_order(self._epoch)[self._doc_index])
    added = self._append_document(doc)
    self._doc_index += 1
    # Without this a repeating stream of empty documents would loop forever.
    self._empty_documents_in_a_row = 0 if added else self._empty_documents_in_a_row + 1
    if self._empty_documents_in_a_row > len(self.source):
      raise ValueError(f'Every document of the text source {self.source!r} is empty'
                       f'{self.empty_reason}.')
    return True

  empty_reason = ''  # what else than emptiness leaves a document without tokens

  def _append_document(self, doc: int) -> int:
    """Appends the tokens of `source[doc]` to the carry; returns how many."""
    tokens = list(self.tokenizer.encode(self.source[doc]))
    if self.append_eos:
      tokens.append(self.tokenizer.eos_id)
    self._carry.extend(tokens)
    return len(tokens)

  def _document_order(self, epoch: int) -> np.ndarray:
    if self._order_epoch != epoch:
      if self.shuffle:
        self._order = np.random.default_rng([self.seed, epoch]).permutation(len(self.source))
      else:
        self._order = np.arange(len(self.source))
      self._order_epoch = epoch
    return self._order
