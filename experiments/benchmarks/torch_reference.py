"""transformers' PyTorch models of the same shape as an lm_jax config, for the benchmarks.

One builder per lm_jax model name: (transformers config, model class, loss function of a batch).
The original Transformer maps to MarianMT, the post-LN sinusoidal encoder-decoder of the
Vaswani et al. design in transformers (its sinusoids concatenate rather than interleave sin and
cos: the same compute).
"""


def _t5(transformers, m):
  config = transformers.T5Config(
      vocab_size=m.vocab_size, d_model=m.d_model, d_kv=m.head_dim, d_ff=m.d_ff,
      num_layers=m.num_encoder_layers, num_decoder_layers=m.num_decoder_layers,
      num_heads=m.num_heads, relative_attention_num_buckets=m.relative_attention_num_buckets,
      relative_attention_max_distance=m.relative_attention_max_distance,
      dropout_rate=m.dropout_rate, layer_norm_epsilon=m.layer_norm_epsilon,
      feed_forward_proj=m.feed_forward, tie_word_embeddings=m.tie_embeddings)
  return transformers.T5ForConditionalGeneration(config), _seq2seq_loss


def _gpt(transformers, m):
  config = transformers.GPT2Config(
      vocab_size=m.vocab_size, n_embd=m.d_model, n_layer=m.num_layers, n_head=m.num_heads,
      n_inner=m.d_ff, n_positions=m.max_length, activation_function='gelu_new',
      resid_pdrop=m.dropout_rate, embd_pdrop=m.dropout_rate, attn_pdrop=m.attention_dropout_rate,
      layer_norm_epsilon=m.layer_norm_epsilon, tie_word_embeddings=m.tie_embeddings)
  return transformers.GPT2LMHeadModel(config), _causal_loss


def _bert(transformers, m):
  config = transformers.BertConfig(
      vocab_size=m.vocab_size, hidden_size=m.d_model, num_hidden_layers=m.num_layers,
      num_attention_heads=m.num_heads, intermediate_size=m.d_ff,
      max_position_embeddings=m.max_length, type_vocab_size=m.type_vocab_size,
      hidden_dropout_prob=m.dropout_rate, attention_probs_dropout_prob=m.attention_dropout_rate,
      layer_norm_eps=m.layer_norm_epsilon)
  return transformers.BertForMaskedLM(config), _mlm_loss


def _transformer(transformers, m):
  config = transformers.MarianConfig(
      vocab_size=m.vocab_size, d_model=m.d_model, encoder_layers=m.num_encoder_layers,
      decoder_layers=m.num_decoder_layers, encoder_attention_heads=m.num_heads,
      decoder_attention_heads=m.num_heads, encoder_ffn_dim=m.d_ff, decoder_ffn_dim=m.d_ff,
      activation_function='relu', dropout=m.dropout_rate,
      attention_dropout=m.attention_dropout_rate, max_position_embeddings=m.max_length,
      scale_embedding=True, share_encoder_decoder_embeddings=True, pad_token_id=0,
      decoder_start_token_id=0)
  return transformers.MarianMTModel(config), _seq2seq_loss


def _seq2seq_loss(model, t):
  return model(input_ids=t['encoder_input_tokens'], decoder_input_ids=t['decoder_input_tokens'],
               labels=t['decoder_target_tokens']).loss


def _causal_loss(model, t):
  # HF shifts labels itself; the inputs are the targets shifted right, so pass the targets.
  return model(input_ids=t['decoder_input_tokens'], labels=t['decoder_input_tokens']).loss


def _mlm_loss(model, t):
  return model(input_ids=t['encoder_input_tokens'], labels=t['encoder_target_tokens']).loss


BUILDERS = {'t5': _t5, 'gpt': _gpt, 'bert': _bert, 'transformer': _transformer}
