import os

import pytest

from lm_jax.config.schema import default_config, validate_config
from lm_jax.data import pipeline, sources
from lm_jax.data import tokenizer as tokenizer_lib


def test_round_trip_is_lossless_on_validation_docs(tokenizer, make_data_config):
  for text in sources.load_text_source(make_data_config(), 'validation'):
    assert tokenizer.decode(tokenizer.encode(text)) == text
  for text in ['  two leading spaces', 'tabs\tand\n\nblank lines\n', 'digits 1234567890',
               'naïve café — ünïcödé ≥ 😀', 'trailing space ']:
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_t5_id_conventions(tokenizer):
  assert (tokenizer.pad_id, tokenizer.eos_id, tokenizer.unk_id) == (0, 1, 2)
  assert tokenizer.vocab_size == tokenizer.sp_vocab_size + 100
  ids = tokenizer.encode('Return the number of items in a container.')
  assert ids and min(ids) > 2 and max(ids) < tokenizer.sp_vocab_size  # no pad/eos/sentinel
  assert tokenizer.decode(ids + [tokenizer.eos_id] + ids) == tokenizer.decode(ids)  # stops at EOS
  assert tokenizer.decode([0] + ids + [0, 0]) == tokenizer.decode(ids)  # pads dropped
  assert tokenizer.path.endswith(os.path.join('lm_jax_tokenizers', 'stdlib_docs_2000.model'))


def test_sentinels_sit_at_the_top(tokenizer):
  assert tokenizer.sentinel_id(0) == tokenizer.vocab_size - 1
  assert tokenizer.sentinel_id(99) == tokenizer.sp_vocab_size
  with pytest.raises(ValueError):
    tokenizer.sentinel_id(100)
  hello = tokenizer.encode('hello')
  ids = [tokenizer.sentinel_id(0)] + hello + [tokenizer.sentinel_id(1)]
  assert tokenizer.decode(ids) == '<extra_id_0>hello<extra_id_1>'
  with pytest.raises(ValueError):
    tokenizer.decode([tokenizer.vocab_size])


def test_cached_tokenizer_is_reused(tokenizer, make_data_config):
  mtime = os.path.getmtime(tokenizer.path)

  def must_not_train():
    raise AssertionError('retrained although a cached model exists')

  again = tokenizer_lib.get_tokenizer(make_data_config(), must_not_train)
  assert again.path == tokenizer.path and os.path.getmtime(again.path) == mtime
  config = make_data_config(tokenizer_path=tokenizer.path)
  by_path = tokenizer_lib.get_tokenizer(config, must_not_train)
  assert by_path.encode('Open a file.') == tokenizer.encode('Open a file.')


def test_missing_tokenizer_path_errors(make_data_config, tmp_path):
  missing = str(tmp_path / 'nope.model')
  with pytest.raises(FileNotFoundError, match='nope.model'):
    tokenizer_lib.get_tokenizer(make_data_config(tokenizer_path=missing), lambda: [])


def test_training_is_deterministic(make_data_config):
  texts = list(sources.load_text_source(make_data_config(), 'validation'))
  assert tokenizer_lib.train(texts, 500) == tokenizer_lib.train(texts, 500)


def test_extra_text_gives_its_language_a_share_of_the_vocabulary(tokenizer, make_data_config):
  # T5's recipe: an English corpus's vocabulary trained with German text mixed in. Django's
  # German catalogs (a requirement, the same on every machine) are ~460 training messages:
  # enough to spell German in fewer tokens, not the 1.7x fewer of the system catalogs (README).
  extra = 'django_translations/de:target'
  joint = pipeline.load_tokenizer_for(make_data_config(tokenizer_extra_text=(extra,)))
  assert joint.path.endswith('stdlib_docs_django_translations_de_target_2000.model')
  assert joint.vocab_size == tokenizer.vocab_size
  german = list(sources.load_text_source(make_data_config(), 'validation',
                                         'django_translations/de', 'target'))[:300]
  chars = sum(len(text) for text in german)
  per_token = lambda tok: chars / sum(len(tok.encode(text)) for text in german)
  assert per_token(joint) > per_token(tokenizer), (per_token(joint), per_token(tokenizer))
  for text in german + list(sources.load_text_source(make_data_config(), 'validation'))[:50]:
    assert joint.decode(joint.encode(text)) == text


def test_extra_text_must_name_a_dataset_and_a_feature(make_data_config):
  config = default_config()
  config.data.tokenizer_extra_text = ('django_translations/de',)
  with pytest.raises(ValueError, match="tokenizer_extra_text.*'<dataset>:<feature>'"):
    validate_config(config)
  with pytest.raises(ValueError, match="no feature 'text_de'.*features: "):
    pipeline.load_tokenizer_for(make_data_config(
        tokenizer_extra_text=('django_translations/de:text_de',), tokenizer_vocab_size=1999))
