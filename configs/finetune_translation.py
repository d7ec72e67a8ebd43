r"""Fine-tunes a pretrained encoder-decoder for English->German translation, scored with BLEU and
chrF (sacrebleu).

`--config.init_from` names the pretrained weights: an lm_jax workdir (for example of
configs/t5_small.py) or a local Hugging Face T5 directory with its spiece.model. A run writes to
runs/finetune_translation_<variant> (runs/finetune_translation without one) and scores validation
as it trains; test scores are eval mode's on the best checkpoint: the same command with
`--config.mode=eval --config.eval.checkpoint=best --config.eval.split=test`, plus
`--config.eval.num_examples=3000` (all 2,357 test pairs) for `:tiny` and `:cpu`, which decode 128
and 512 examples an evaluation. Times are wall clock on a shared 2-core CPU, evaluations included.

(none)  T5's recipe on WMT14 en-de (TFDS `wmt14_translate/de-en`, prepared beforehand).
          python -m lm_jax.main --config=configs/finetune_translation.py \
              --config.init_from=<a pretrained T5 workdir or HF directory>
        expect: not measured here; the paper's T5-small reaches WMT EnDe BLEU 26.7 (Raffel et al.
        2020, Table 14).
system  the same recipe on the offline gettext catalogs of the machine's software
        (`translate_en_de_system`, ~24k pairs; `translate_en_de` is Django's ~570).
          python -m lm_jax.main --config=configs/finetune_translation.py:system \
              --config.init_from=<a pretrained T5 workdir or HF directory>
        expect: not measured here.
tiny    those system pairs, fine-tuning a tiny pretrained T5 (configs/t5_small.py:tiny).
          python -m lm_jax.main --config=configs/finetune_translation.py:tiny \
              --config.init_from=runs/t5_small_tiny
        expect: from the tiny T5 pretrained 2,000 steps, about 3½ minutes (203 s, 2026-11) and
        test BLEU / chrF 0.6 / 10.6, far below copying the input's 12.9 / 26.9
        (docs/finetuning_results.md, 2026-12).
cpu     those system pairs, whole, with the recipe that learns on CPU (AdamW; 3000 steps),
        from a model that has already learned to copy: the mini T5 fine-tuned on the docstring
        QA (configs/finetune_qa.py:cpu, whose workdir is runs/finetune_qa_cpu).
          python -m lm_jax.main --config=configs/finetune_translation.py:cpu \
              --config.init_from=runs/finetune_qa_cpu
        expect: about 37 minutes and test BLEU / chrF 14.0 / 33.3, beating copying the input
        (12.9 / 26.9); every CPU run from a pretrained model alone stayed at BLEU 0.6-5.5
        (docs/finetuning_results.md, 2026-12).
"""
from lm_jax.config import presets
from lm_jax.config.schema import default_config


def get_config(variant=None):
  c = presets.t5_recipe(default_config(), task='wmt14_en_de', inputs_length=512,
                                 targets_length=512, metric='bleu')
  c.eval.metrics = ('bleu', 'chrf')
  # T5 decoded translations with 4 beams and a length penalty of 0.6 (here HF's form of it).
  c.generate.update(strategy='beam', num_beams=4, length_penalty=0.6)
  if variant in ('system', 'tiny', 'cpu'):
    c.data.task = 'translate_en_de_system'
    c.data.inputs_length = c.data.targets_length = 128  # 99% of the English messages fit
  if variant == 'tiny':
    presets.tiny(c, num_train_steps=2000)
    c.data.inputs_length = c.data.targets_length = 64  # for speed; truncates ~1 pair in 10
    c.generate.strategy = 'greedy'  # for speed
  elif variant == 'cpu':
    presets.cpu_hour(c, num_train_steps=3000)
    # Whole messages: cut to 64 tokens, the 3.5% of test messages longer than that (23% of the
    # reference words) came out at a third of their length (BLEU's brevity penalty 0.72).
    # 32 rows of 128 hold about the examples of 64 rows of 64; with an English vocabulary
    # German takes ~1.3x the tokens.
    c.per_device_batch_size = 32
    c.data.targets_length = 160
    c.eval.num_examples = 512  # BLEU of 128 short messages picked checkpoints by noise
  elif variant not in (None, 'system'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_translation.py; use '
                     'system, tiny or cpu.')
  return c
