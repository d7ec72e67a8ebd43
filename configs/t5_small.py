"""T5-small (60M with a 32k vocabulary) pretrained with span corruption, the T5 paper's recipe.

Each run writes to runs/t5_small_<variant> (runs/t5_small without one; `--workdir` to change it) and
logs eval loss, perplexity and span-token accuracy to its metrics.jsonl. Times below are wall clock
on a shared 2-core CPU, compilation included (2026-12).

(none)  the real shape and recipe: batch 128 x 512 tokens, Adafactor, rsqrt from 0.01.
          python -m lm_jax.main --config=configs/t5_small.py
        expect: not measured here (a job for accelerators); the paper's T5-small, pretrained on
        C4 and fine-tuned, reports GLUE average 77.4, CNN/DM ROUGE-2 19.56, SQuAD EM / F1
        79.10 / 87.24, WMT EnDe BLEU 26.7 (Raffel et al. 2020, Table 14).
cpu     the real shape on a laptop CPU: inputs 128, batch 8, 200 steps (the README quick start).
          python -m lm_jax.main --config=configs/t5_small.py:cpu
        expect: about 4 min 20 s from a fresh data dir (building the corpus and training the
        tokenizer included); eval loss / perplexity / span-token accuracy 5.720 / 305.0 / 0.244
        at step 100, 5.380 / 217.1 / 0.278 at step 200.
tiny    a 2-layer model for tests, 200 steps (docs/finetuning_results.md pretrains it
        2,000 steps, `--config.num_train_steps=2000`: 59 s).
          python -m lm_jax.main --config=configs/t5_small.py:tiny
        expect: about 20 s; at step 200 eval loss 4.788, perplexity 120.0, span-token accuracy
        0.297.
mini    tiny at width 128 (d_ff 512), 200 steps; the fine-tuning configs' `:cpu` variants start
        from it pretrained 2,000 steps, as configs/sweeps/finetune_tasks.py does:
          python -m lm_jax.main --config=configs/t5_small.py:mini --config.num_train_steps=2000
        expect: about 2 min; at step 2000 eval loss 4.196, perplexity 66.4, span-token accuracy
        0.315.
"""
from lm_jax.config.schema import default_config


def get_config(variant=None):
  c = default_config()
  c.model.update(
      name='t5', vocab_size=32128, d_model=512, num_heads=8, head_dim=64, d_ff=2048,
      num_encoder_layers=6, num_decoder_layers=6, feed_forward='relu', tie_embeddings=True,
      dropout_rate=0.1, relative_attention_num_buckets=32, relative_attention_max_distance=128,
      layer_norm_epsilon=1e-6, dtype='float32',
      # T5's own choices; the alternatives are ablations (configs/sweeps/t5_tiny_ablations.py).
      position_embedding='relative', norm_position='pre')
  # T5 §3.1.2: 2^19 steps at batch 128 x 512 tokens, inverse-sqrt decay from 0.01 after 10^4 steps.
  c.num_train_steps = 524_288
  c.per_device_batch_size = 128
  c.eval_every_steps = 5000
  c.checkpoint_every_steps = 5000
  c.log_every_steps = 100

  if variant == 'cpu':
    c.num_train_steps = 200  # 4 min 21 s on 2 CPU cores, corpus and tokenizer included.
    c.per_device_batch_size = 8
    c.data.inputs_length = 128
    c.data.targets_length = 29   # T5's random_spans_helper for 128 inputs.
    c.model.dropout_rate = 0.0
    c.optimizer.warmup_steps = 100
    c.log_every_steps = 10
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 10
  elif variant == 'tiny':
    c.model.update(vocab_size=2176, d_model=64, num_heads=4, head_dim=16, d_ff=128,
                   num_encoder_layers=2, num_decoder_layers=2, dropout_rate=0.0)
    c.data.tokenizer_vocab_size = 2000
    c.data.inputs_length = 64
    c.data.targets_length = 14
    c.num_train_steps = 200
    c.per_device_batch_size = 16
    c.optimizer.warmup_steps = 50
    c.log_every_steps = 10
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 4
  elif variant == 'mini':
    # The tiny model twice as wide: 0.92M parameters besides the embeddings, 5.6x tiny's.
    c = get_config('tiny')
    c.model.update(d_model=128, head_dim=32, d_ff=512)
  elif variant is not None:
    raise ValueError(f'Unknown variant {variant!r} of configs/t5_small.py; use cpu, tiny or mini.')
  return c
