"""Fine-tuning imported Hugging Face GPT-2 and BERT directories through the one loop, with the
tokenizers saved in them: their pad and EOS ids in the batches, the run's copy of the tokenizer
read back by eval mode."""
import inspect
import json
import os

import numpy as np
import pytest
import tokenizers
import transformers
from tokenizers import decoders, normalizers, pre_tokenizers, trainers
from tokenizers.models import BPE, WordPiece

from finetune_configs import config_for

from lm_jax import modes
from lm_jax.data import tasks
from lm_jax.train import loop
from lm_jax.train.metrics_writer import read_metrics
from lm_jax.train.run_dir import RunDir
from lm_jax.train.trainer import Trainer

EOT = '<|endoftext|>'
# [PAD] second, not first: the pipeline and the model must take the pad id from the files.
BERT_SPECIALS = ('[UNK]', '[PAD]', '[CLS]', '[SEP]', '[MASK]')
STEPS = 6


def _corpus() -> list[str]:
  lines = []
  for module in (str, dict, list, os, os.path, json, inspect):
    for name in sorted(dir(module)):
      doc = getattr(getattr(module, name), '__doc__', None)
      if isinstance(doc, str):
        lines.extend(doc.splitlines())
  return lines


def _gpt2_dir(path) -> str:
  """A random 2-layer GPT-2 with a byte-level BPE whose <|endoftext|> is its last id, as in
  GPT-2's own vocabulary (id 0 is an ordinary byte)."""
  tok = tokenizers.Tokenizer(BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  tok.train_from_iterator(_corpus(), trainers.BpeTrainer(
      vocab_size=320, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
  tok.add_special_tokens([EOT])
  os.makedirs(path)
  tok.save(os.path.join(path, 'tokenizer.json'))
  eot = tok.token_to_id(EOT)
  transformers.set_seed(0)  # the random weights, so that the test's loss curve is one curve
  config = transformers.GPT2Config(vocab_size=tok.get_vocab_size(), n_embd=32, n_layer=2,
                                   n_head=4, n_positions=160, bos_token_id=eot, eos_token_id=eot)
  transformers.GPT2LMHeadModel(config).save_pretrained(path)
  return str(path)


def _bert_dir(path) -> str:
  """A random 2-layer BERT with a WordPiece vocabulary whose [PAD] is id 1."""
  tok = tokenizers.Tokenizer(WordPiece(unk_token='[UNK]'))
  tok.normalizer = normalizers.BertNormalizer(lowercase=True)
  tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  tok.decoder = decoders.WordPiece()
  tok.train_from_iterator(_corpus(), trainers.WordPieceTrainer(
      vocab_size=400, special_tokens=list(BERT_SPECIALS), show_progress=False))
  os.makedirs(path)
  tok.save(os.path.join(path, 'tokenizer.json'))
  transformers.set_seed(0)
  config = transformers.BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32,
                                   num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=64, max_position_embeddings=80,
                                   pad_token_id=tok.token_to_id('[PAD]'))
  transformers.BertForMaskedLM(config).save_pretrained(path)
  return str(path)


@pytest.fixture
def length_task():
  """Is a docstring summary longer than eight words? (tests/train/test_finetune_loop.py)"""
  name = 'test_summary_length'
  if name not in tasks.TASKS:
    def label(r):
      return 'long' if len(r['summary'].split()) > 8 else 'short'
    tasks.register(tasks.Task(
        name=name, dataset='docstring_summaries',
        preprocess=lambda r: tasks.Example(inputs=f"summary: {r['summary']}", targets=label(r),
                                           references=(label(r),)),
        metrics=('accuracy', 'f1'), labels=('short', 'long'), description='test only'))
  return name


def _run(config, workdir):
  last = loop.train_and_evaluate(config, workdir)
  losses = [m['train/loss'] for m in read_metrics(workdir) if 'train/loss' in m]
  assert losses and all(np.isfinite(losses)), losses
  return last, losses


def _check_eval_mode_reads_the_runs_tokenizer(config, workdir, source_dir):
  run = RunDir(workdir)
  copy = run.own_tokenizer()
  assert copy == run.hf_tokenizer_dir
  assert run.tokenizer_path() == copy  # what init_from of this run reads its tokens with
  with open(os.path.join(copy, 'tokenizer.json'), 'rb') as f, \
       open(os.path.join(source_dir, 'tokenizer.json'), 'rb') as g:
    assert f.read() == g.read()
  evaluating = config.copy_and_resolve_references()  # the training command, in eval mode
  evaluating.mode = 'eval'
  trainer = Trainer(evaluating, workdir, training=False)
  assert os.path.dirname(trainer.tokenizer.path) == copy
  return modes.evaluate_checkpoint(evaluating, workdir, [])


def test_gpt2_fine_tunes_with_its_own_tokenizer(data_dir, tmp_path):
  source = _gpt2_dir(tmp_path / 'gpt2')
  config = config_for('finetune_summarization.py:tiny', data_dir, init_from=source,
                      num_train_steps=STEPS, log_every_steps=1, eval_every_steps=STEPS,
                      checkpoint_every_steps=STEPS, num_eval_batches=1, **{
                          'model.name': 'gpt', 'data.task': 'summarize_docstrings',
                          'data.inputs_length': 96, 'data.targets_length': 32,
                          'eval.num_examples': 4, 'per_device_batch_size': 4,
                          # AdamW: Adafactor's steps relative to the 0.02-scale random weights
                          # leave the loss flat for 6 steps, at the mercy of the batch noise.
                          'optimizer.name': 'adamw', 'optimizer.learning_rate': 3e-3})
  workdir = str(tmp_path / 'run')
  trainer = Trainer(config, workdir)
  eot = trainer.tokenizer.eos_id
  assert trainer.tokenizer.pad_id == eot == trainer.config.model.vocab_size - 1
  batch = next(trainer.train_iter)
  real = batch['decoder_segment_ids'] > 0
  ends = real & ~np.roll(real, -1, axis=1)  # a row's last real position
  assert (batch['decoder_target_tokens'][ends] == eot).all()
  assert (batch['decoder_input_tokens'][:, 0] == eot).all()  # BOS: GPT-2's <|endoftext|>
  assert (batch['decoder_target_tokens'][~real] == eot).all()  # padding
  assert (batch['decoder_loss_weights'][~real] == 0).all()

  last, losses = _run(config, workdir)
  assert losses[-1] < losses[0], losses
  assert np.isfinite(last['eval/loss'])
  scores = _check_eval_mode_reads_the_runs_tokenizer(config, workdir, source)
  assert scores['step'] == STEPS
  np.testing.assert_allclose(scores['metrics']['loss'], last['eval/loss'], rtol=1e-6)


def test_bert_fine_tunes_a_classifier_with_its_own_tokenizer(data_dir, length_task, tmp_path):
  source = _bert_dir(tmp_path / 'bert')
  config = config_for('finetune_classification.py:bert_tiny', data_dir, init_from=source,
                      num_train_steps=STEPS, log_every_steps=1, eval_every_steps=STEPS,
                      checkpoint_every_steps=STEPS, num_eval_batches=1, **{
                          'data.task': length_task, 'eval.num_examples': 16,
                          'per_device_batch_size': 8})
  workdir = str(tmp_path / 'run')
  trainer = Trainer(config, workdir)
  tokenizer = trainer.tokenizer
  assert (tokenizer.pad_id, tokenizer.eos_id) == (1, tokenizer.sep_id)
  assert trainer.model.config.pad_token_id == 1  # from the checkpoint's config.json
  tokens = next(trainer.train_iter)['encoder_input_tokens']
  lengths = (tokens != tokenizer.pad_id).sum(axis=1)
  padded = lengths < tokens.shape[1]  # not trimmed: padded with [PAD] after their [SEP]
  assert padded.any()
  assert (tokens[np.arange(len(tokens)), lengths - 1][padded] == tokenizer.sep_id).all()

  last, _ = _run(config, workdir)
  # Eval mode, reading the run's tokenizer copy, classifies the examples training scored last
  # exactly as training did.
  scores = _check_eval_mode_reads_the_runs_tokenizer(config, workdir, source)
  assert scores['step'] == STEPS
  for metric in ('accuracy', 'f1', 'loss'):
    np.testing.assert_allclose(scores['metrics'][metric], last[f'eval/{metric}'], rtol=1e-6)


def test_a_model_pad_id_other_than_the_tokenizers_is_refused(data_dir, length_task, tmp_path):
  source = _bert_dir(tmp_path / 'bert')
  config = config_for('finetune_classification.py:bert_tiny', data_dir, init_from=source,
                      **{'data.task': length_task})
  with config.unlocked():
    config.model.pad_token_id = 0
  with pytest.raises(ValueError, match='pads with id 1.*pad_token_id=1'):
    Trainer(config, str(tmp_path / 'run'))
