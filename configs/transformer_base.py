"""The Transformer base model (Vaswani et al. 2017, 60.6M parameters with a 32k shared vocabulary)
and its training recipe: Adam, the warm-up / inverse-sqrt schedule of §5.3, label smoothing 0.1.

The paper trains on WMT translation; translation data is a later addition, so for now the model
pretrains on the default objective, T5 span corruption of the embedded corpus (inputs 512 tokens,
targets 114, as configs/t5_small.py): the same encoder-decoder loss on different pairs.

Each run writes to runs/transformer_base_<variant> (runs/transformer_base without one; `--workdir`
to change it) and logs eval loss, perplexity and span-token accuracy to its metrics.jsonl. Times are
wall clock on a shared 2-core CPU, compilation included (2026-12).

(none)  the base model and recipe: 100k steps, about 25k source tokens per batch.
          python -m lm_jax.main --config=configs/transformer_base.py
        expect: not measured here (a job for accelerators). The paper's base model reaches BLEU
        27.3 on WMT14 EN-DE newstest2014 (Vaswani et al. 2017, Table 2), a translation figure
        this span-corruption run does not produce.
tiny    a 2+2-layer model for tests, 200 steps.
          python -m lm_jax.main --config=configs/transformer_base.py:tiny
        expect: about 24 s; at step 200 eval loss 4.040, perplexity 56.8, accuracy 0.306.
translate
        the paper's own task and recipe: English->German translation trained from scratch on
        WMT14 (TFDS `wmt14_translate/de-en`, prepared beforehand), a vocabulary shared by both
        languages (§5.1), the warm-up / inverse-sqrt schedule, label smoothing 0.1, beam 4 with
        length penalty 0.6 (§6.1), the best checkpoint on validation BLEU kept.
          python -m lm_jax.main --config=configs/transformer_base.py:translate
        expect: not measured here; the paper's base model reaches BLEU 27.3 on newstest2014.
translate_cpu
        that recipe on the offline UI-message pairs (`translate_en_de_system`, ~24k pairs) with a
        3+3-layer, 128-wide model, 2,000 steps of 32 pairs (warm-up 500), about an hour on a
        2-core CPU; then the test split in eval mode, beside copying the input:
          python -m lm_jax.main --config=configs/transformer_base.py:translate_cpu
          python -m lm_jax.main --config=configs/transformer_base.py:translate_cpu \
              --config.mode=eval --config.eval.split=test --config.eval.checkpoint=best \
              --config.eval.num_examples=3000 --config.eval.baseline=True
        expect: test BLEU / chrF 17.76 / 43.29 (2,357 pairs) against copying the input's
        12.94 / 26.93; validation BLEU 20.4 at step 2000 (2026-12-07, README results).
"""
from lm_jax.config.schema import default_config

D_MODEL = 512
WARMUP_STEPS = 4000


def _paper_peak_learning_rate(d_model: int, warmup_steps: int) -> float:
  """§5.3: lrate = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) peaks at step = warmup.

  lm_jax's 'rsqrt' schedule is peak * min(1, (s + 1) / warmup) * sqrt(warmup / max(s, warmup))
  for optimizer step s = paper step - 1: the same linear rise to the same peak, then
  peak * sqrt(warmup / step), equal to the paper's d_model^-0.5 * step^-0.5 exactly when
  peak = d_model^-0.5 * warmup^-0.5 (7.0e-4 for the base model).
  """
  return d_model**-0.5 * warmup_steps**-0.5


def _translation(c, small: bool) -> None:
  """Vaswani et al.'s task with their recipe (the base config already has Adam, the schedule and
  label smoothing): from scratch, a shared vocabulary, beam 4 with length penalty 0.6."""
  c.data.task = 'translate_en_de_system' if small else 'wmt14_en_de'
  german = 'system_translations/de:target' if small else 'wmt14_translate/de-en:de'
  c.data.tokenizer_extra_text = (german,)  # §5.1: one vocabulary for source and target
  c.eval.metrics = ('bleu', 'chrf')
  c.generate.update(strategy='beam', num_beams=4, length_penalty=0.6)  # §6.1
  c.early_stopping.update(metric='bleu', mode='max', patience=0)  # keep the best checkpoint
  if not small:
    # The vocabulary learns from WMT's own English side too, not the docstring corpus.
    c.data.update(dataset='wmt14_translate/de-en', text_feature='en')
    c.data.inputs_length = c.data.targets_length = 256
    return
  d_model, warmup = 128, 500
  c.model.update(vocab_size=4224, d_model=d_model, num_heads=4, head_dim=32, d_ff=512,
                 num_encoder_layers=3, num_decoder_layers=3, init_std=d_model**-0.5)
  c.data.tokenizer_vocab_size = 4000
  c.data.inputs_length, c.data.targets_length = 128, 160  # whole messages (German ~1.3x)
  c.num_train_steps = 2000  # ~1.75 s a step on 2 CPU cores
  c.per_device_batch_size = 32
  c.optimizer.update(warmup_steps=warmup, learning_rate=_paper_peak_learning_rate(d_model, warmup))
  c.log_every_steps = 50
  c.eval_every_steps = c.checkpoint_every_steps = 500
  c.num_eval_batches = 8
  c.eval.num_examples = 256


def get_config(variant=None):
  c = default_config()
  c.model.update(
      name='transformer', vocab_size=32128, d_model=D_MODEL, num_heads=8, head_dim=64,
      d_ff=2048, num_encoder_layers=6, num_decoder_layers=6, activation='relu', use_bias=True,
      norm_position='post', position_embedding='sinusoidal', layer_norm_epsilon=1e-6,
      dropout_rate=0.1, attention_dropout_rate=0.0, init_std=D_MODEL**-0.5, max_length=512,
      attention_impl='exact', dtype='float32')
  # §5.2: 100k steps of batches with ~25k source tokens (here 48 x 512 encoder tokens).
  c.num_train_steps = 100_000
  c.per_device_batch_size = 48
  c.eval_every_steps = 5000
  c.checkpoint_every_steps = 5000
  c.log_every_steps = 100
  # §5.3: Adam with beta1 0.9, beta2 0.98, epsilon 1e-9; no weight decay, no gradient clipping.
  c.optimizer.update(
      name='adamw', b1=0.9, b2=0.98, eps=1e-9, weight_decay=0.0, grad_clip_norm=0.0,
      schedule='rsqrt', warmup_steps=WARMUP_STEPS,
      learning_rate=_paper_peak_learning_rate(D_MODEL, WARMUP_STEPS))
  # §5.4: label smoothing 0.1; the paper has no z-loss.
  c.loss.label_smoothing = 0.1
  c.loss.z_loss = 0.0

  if variant == 'tiny':
    c.model.update(vocab_size=2176, d_model=64, num_heads=4, head_dim=16, d_ff=128,
                   num_encoder_layers=2, num_decoder_layers=2, dropout_rate=0.0,
                   init_std=64**-0.5)
    c.data.tokenizer_vocab_size = 2000
    c.data.inputs_length = 64
    c.data.targets_length = 14
    c.num_train_steps = 200
    c.per_device_batch_size = 16
    # The paper's formula would peak at 64^-0.5 * 50^-0.5 = 0.018, too hot for 200 steps of a
    # tiny model; the same schedule shape with a lower peak.
    c.optimizer.warmup_steps = 50
    c.optimizer.learning_rate = 2e-3
    c.log_every_steps = 10
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 4
  elif variant in ('translate', 'translate_cpu'):
    _translation(c, small=variant == 'translate_cpu')
  elif variant is not None:
    raise ValueError(f'Unknown variant {variant!r} of configs/transformer_base.py; use tiny, '
                     'translate or translate_cpu.')
  return c
