"""BERT-base (110M with BERT's 30522-id vocabulary) pretrained with masked language modelling,
the recipe of Devlin et al. 2019 (§3.1, §A.2).

The model's vocabulary only has to cover the tokenizer: the default pipeline trains a
SentencePiece model of data.tokenizer_vocab_size ids plus data.num_extra_ids sentinels, and MLM's
mask token is the top sentinel, so vocab_size >= tokenizer_vocab_size + num_extra_ids.

Each run writes to runs/bert_base_<variant> (runs/bert_base without one; `--workdir` to change it)
and logs eval loss, perplexity and accuracy on the masked tokens to its metrics.jsonl. Times are
wall clock on a shared 2-core CPU, compilation included (2026-12).

(none)  the real shape and recipe: batch 256 x 512 tokens, AdamW 1e-4, 10k warmup, linear decay.
          python -m lm_jax.main --config=configs/bert_base.py
        expect: not measured here (a job for accelerators); the paper's BERT-base, pretrained on
        BooksCorpus and Wikipedia and fine-tuned, reports SQuAD v1.1 dev EM / F1 80.8 / 88.5
        and SST-2 93.5 on GLUE test (Devlin et al. 2019).
tiny    a 2-layer model for tests, 200 steps on 128-token rows.
          python -m lm_jax.main --config=configs/bert_base.py:tiny
        expect: about 45 s; at step 200 eval loss 5.882, perplexity 358.5, masked-token accuracy
        0.086.
"""
from lm_jax.config.schema import default_config


def get_config(variant=None):
  c = default_config()
  c.model.update(
      name='bert', vocab_size=30522, d_model=768, num_heads=12, head_dim=64, d_ff=3072,
      num_layers=12, max_length=512, type_vocab_size=2, activation='gelu', norm_position='post',
      layer_norm_epsilon=1e-12, dropout_rate=0.1, attention_dropout_rate=0.1, init_std=0.02,
      position_embedding='learned', dtype='float32',
      attention_impl='exact')  # 'fused': cuDNN flash attention on GPU (docs/accelerators.md)
  # §3.1 / §A.1: select 15% of the tokens; 80% of them become [MASK], 10% a random token.
  c.data.objective = 'mlm'
  c.data.mlm_probability = 0.15
  c.data.mlm_mask_fraction = 0.8
  c.data.mlm_random_fraction = 0.1
  # §A.2: 512-token rows. BERT trains 90% of its steps at 128 tokens and the last 10% at 512
  # "to learn the positional embeddings"; one length here is that second phase's.
  c.data.inputs_length = 512
  # §A.2: batch 256 for 1,000,000 steps; Adam lr 1e-4, beta1 0.9, beta2 0.999, L2 weight decay
  # 0.01, warmup over the first 10,000 steps then linear decay. Adam's epsilon 1e-6 and the
  # global-norm clip at 1.0 are the original code's (optimization.py).
  c.num_train_steps = 1_000_000
  c.per_device_batch_size = 256
  c.optimizer.update(name='adamw', learning_rate=1e-4, schedule='linear', warmup_steps=10_000,
                     end_learning_rate_fraction=0.0, b1=0.9, b2=0.999, eps=1e-6,
                     weight_decay=0.01, grad_clip_norm=1.0)
  c.loss.z_loss = 0.0  # BERT's loss is plain cross-entropy over the selected tokens.
  c.eval_every_steps = 5000
  c.checkpoint_every_steps = 5000
  c.log_every_steps = 100

  if variant == 'tiny':
    c.model.update(vocab_size=2176, d_model=64, num_heads=4, head_dim=16, d_ff=256,
                   num_layers=2, max_length=128, dropout_rate=0.0, attention_dropout_rate=0.0)
    c.data.tokenizer_vocab_size = 2000  # + 100 sentinels = 2100 ids <= vocab_size
    c.data.inputs_length = 128
    c.num_train_steps = 200
    c.per_device_batch_size = 16
    c.optimizer.update(learning_rate=2e-3, warmup_steps=20)
    c.log_every_steps = 10
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 4
  elif variant is not None:
    raise ValueError(f'Unknown variant {variant!r} of configs/bert_base.py; use tiny.')
  return c
