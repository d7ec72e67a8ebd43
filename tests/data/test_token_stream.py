import json

import numpy as np
import pytest

from lm_jax.data import token_stream


def encoded(tokenizer, texts, order, eos):
  end = [tokenizer.eos_id] if eos else []
  return [t for i in order for t in tokenizer.encode(texts[i]) + end]


def drain(stream, n):
  out = []
  while chunk := stream.take(n):
    out.append(chunk)
  return out


@pytest.mark.parametrize('append_eos', [False, True])
def test_one_pass_reads_every_document_once_in_order(tokenizer, validation_texts, append_eos):
  texts = validation_texts[:20]
  stream = token_stream.TokenStream(texts, tokenizer, seed=0, shuffle=False, repeat=False,
                                    append_eos=append_eos)
  chunks = drain(stream, 37)
  assert all(len(c) == 37 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 37
  assert sum(chunks, []) == encoded(tokenizer, texts, range(len(texts)), append_eos)
  assert stream.take(37) == [] and stream.take_from_document(5) == []


def test_epochs_follow_a_permutation_seeded_by_seed_and_epoch(tokenizer, validation_texts):
  texts = validation_texts[:10]
  stream = token_stream.TokenStream(texts, tokenizer, seed=3, append_eos=True)
  per_epoch = len(encoded(tokenizer, texts, range(10), True))
  tokens = stream.take(3 * per_epoch)
  assert stream.epoch == 2
  orders = [np.random.default_rng([3, epoch]).permutation(10) for epoch in range(3)]
  assert tokens == [t for order in orders for t in encoded(tokenizer, texts, order, True)]
  assert not np.array_equal(orders[0], orders[1])


def test_take_from_document_never_crosses_a_document(tokenizer, validation_texts):
  texts = validation_texts[:15]
  stream = token_stream.TokenStream(texts, tokenizer, seed=0, shuffle=False, repeat=False,
                                    append_eos=True)
  pieces = []
  while piece := stream.take_from_document(16):
    pieces.append(piece)
  assert all(1 <= len(p) <= 16 for p in pieces)
  # Each document is a run of pieces, full-length ones then one that ends with EOS.
  documents, current = [], []
  for piece in pieces:
    assert tokenizer.eos_id not in piece[:-1]
    current += piece
    if piece[-1] == tokenizer.eos_id:
      documents.append(current)
      current = []
    else:
      assert len(piece) == 16
  assert current == []
  assert documents == [tokenizer.encode(t) + [tokenizer.eos_id] for t in texts]


@pytest.mark.parametrize('method,n', [('take', 50), ('take_from_document', 9)])
def test_state_round_trip_resumes_identically(tokenizer, validation_texts, method, n):
  texts = validation_texts[:6]

  def new_stream():
    return token_stream.TokenStream(texts, tokenizer, seed=1, append_eos=True)

  reference = new_stream()
  expected = [getattr(reference, method)(n) for _ in range(300)]
  stream = new_stream()
  for i in range(300):
    if i in (0, 17, 101, 299):
      resumed = new_stream()
      resumed.set_state(json.loads(json.dumps(stream.get_state())))
      assert [getattr(resumed, method)(n) for _ in range(i, 300)] == expected[i:]
    assert getattr(stream, method)(n) == expected[i]
  assert stream.epoch >= 2


def test_bad_sources_fail_clearly(tokenizer):
  with pytest.raises(ValueError, match='empty'):
    token_stream.TokenStream([], tokenizer, seed=0)
  with pytest.raises(ValueError, match='seed'):
    token_stream.TokenStream(['text'], tokenizer, seed=-1)
  empty_documents = token_stream.TokenStream(['', ''], tokenizer, seed=0)
  with pytest.raises(ValueError, match='Every document'):
    empty_documents.take(4)  # rather than looping forever
