"""Prompt tuning: a prompt whose rows are the embeddings of some tokens computes exactly what the
plain model computes with those tokens written in front of the input (positions, masks, relative
bias, token types and all), in full passes and in generation; the initial tokens follow peft's
TEXT init or are distinct common vocabulary tokens; a model without a token embedder is refused."""
import types

import flax.linen as nn
import jax
import numpy as np
import pytest

from lm_jax.generation.decoding import generate
from lm_jax.models.bert import Bert, BertConfig
from lm_jax.models.transformer import Transformer, TransformerConfig
from lm_jax.peft import prompt

IDS = (7, 3, 11)  # the prompt's tokens
P = len(IDS)


def _prompted(variables, ids=IDS):
  params = variables['params']
  spec = prompt.spec_for(None, params, ids)
  return {'params': prompt.insert(params, prompt.from_base(spec, params))}


def _written(tokens):
  """The tokens with IDS written in front, as real tokens."""
  return np.concatenate([np.broadcast_to(np.array(IDS, np.int32), (len(tokens), P)), tokens], 1)


@pytest.fixture(scope='module')
def tiny_bert():
  model = Bert(BertConfig(vocab_size=48, d_model=32, num_heads=4, head_dim=8, d_ff=64,
                          num_layers=2, max_length=16, dropout_rate=0.0,
                          attention_dropout_rate=0.0))
  inputs = np.random.default_rng(3).integers(1, 48, (2, 6)).astype(np.int32)
  inputs[1, 4:] = 0
  return model, jax.jit(model.init)(jax.random.key(3), inputs), inputs


@pytest.fixture(scope='module')
def tiny_transformer():
  model = Transformer(TransformerConfig(vocab_size=48, d_model=32, num_heads=4, head_dim=8,
                                        d_ff=64, num_encoder_layers=1, num_decoder_layers=1,
                                        dropout_rate=0.0, attention_dropout_rate=0.0))
  inputs = np.random.default_rng(4).integers(2, 48, (2, 5)).astype(np.int32)
  inputs[0, 3:] = 0
  return model, jax.jit(model.init)(jax.random.key(4), inputs, inputs[:, :3]), inputs


def _close(a, b):
  np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5)


def test_encoder_decoders_read_the_prompt_as_tokens_in_front(tiny_t5, tiny_transformer):
  """T5 (relative bias, encoder padding) and the Transformer (sinusoids, scaled embeddings)."""
  for model, variables, inputs in ((tiny_t5.model, tiny_t5.variables, tiny_t5.inputs),
                                   tiny_transformer):
    decoder = inputs[:, :3]
    _close(model.apply(_prompted(variables), inputs, decoder),
           model.apply(variables, _written(inputs), decoder))


def test_decoder_only_and_bert_read_the_prompt_as_tokens_in_front(tiny_gpt, tiny_bert):
  """Their outputs at the real tokens, with learned positions (and BERT's token types)."""
  _close(tiny_gpt.model.apply(_prompted(tiny_gpt.variables), tiny_gpt.inputs),
         tiny_gpt.model.apply(tiny_gpt.variables, _written(tiny_gpt.inputs))[:, P:])
  model, variables, inputs = tiny_bert
  _close(model.apply(_prompted(variables), inputs),
         model.apply(variables, _written(inputs))[:, P:])


def test_generation_with_a_prompt_decodes_what_the_written_tokens_decode(tiny_t5, tiny_gpt):
  """GPT decodes a prompt-tuned model by full passes, the plain one with its KV cache."""
  kwargs = dict(max_new_tokens=4, eos_id=-1)
  np.testing.assert_array_equal(
      generate(tiny_t5.model, _prompted(tiny_t5.variables), tiny_t5.inputs, **kwargs),
      generate(tiny_t5.model, tiny_t5.variables, _written(tiny_t5.inputs), **kwargs))
  lengths = tiny_gpt.prompt_lengths
  np.testing.assert_array_equal(
      generate(tiny_gpt.model, _prompted(tiny_gpt.variables), tiny_gpt.inputs,
               prompt_lengths=lengths, **kwargs),
      generate(tiny_gpt.model, tiny_gpt.variables, _written(tiny_gpt.inputs),
               prompt_lengths=lengths + P, **kwargs))


def test_the_initial_tokens():
  tokenizer = types.SimpleNamespace(encode=lambda text: [5, 6], vocab_size=40, pad_id=0,
                                    eos_id=1, unk_id=2)
  # peft's TEXT init: the text's ids repeated to P, or cut to it.
  assert prompt.init_ids(5, 'text', 'ab', tokenizer, seed=0) == (5, 6, 5, 6, 5)
  assert prompt.init_ids(1, 'text', 'ab', tokenizer, seed=0) == (5,)
  ids = prompt.init_ids(30, 'vocab', '', tokenizer, seed=0)
  assert len(set(ids)) == 30 and not set(ids) & {0, 1, 2} and max(ids) < 40
  assert ids != prompt.init_ids(30, 'vocab', '', tokenizer, seed=1)
  with pytest.raises(ValueError, match='num_virtual_tokens=38 exceeds the 37 vocabulary'):
    prompt.init_ids(38, 'vocab', '', tokenizer, seed=0)


def test_a_model_without_a_token_embedder_is_refused():
  class Mlp(nn.Module):
    @nn.compact
    def __call__(self, x):
      return nn.Dense(4)(x)

  params = Mlp().init(jax.random.key(0), np.zeros((1, 4)))['params']
  with pytest.raises(ValueError, match="method='prompt' .* Mlp has no such table"):
    prompt.spec_for(Mlp(), params, IDS)
