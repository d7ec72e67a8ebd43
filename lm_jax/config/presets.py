"""Settings the fine-tuning configs (configs/finetune_*.py) share: T5's fine-tuning recipe and the
tiny variant that fine-tunes a tiny pretrained run on a CPU in minutes."""
import ml_collections


def t5_recipe(c: ml_collections.ConfigDict, task: str, inputs_length: int, targets_length: int,
              metric: str) -> ml_collections.ConfigDict:
  """Raffel et al. 2020 §3.1.4: 2^18 steps at batch 128, Adafactor at a constant 0.001, dropout
  0.1, a checkpoint every 5000 steps and the best one on validation reported."""
  c.data.task = task
  c.data.inputs_length = inputs_length
  c.data.targets_length = targets_length
  c.num_train_steps = 262_144
  c.per_device_batch_size = 128
  c.optimizer.update(name='adafactor', schedule='constant', learning_rate=1e-3, warmup_steps=0)
  c.model.dropout_rate = 0.1
  # How the pretrained model's layers recompute in the backward pass (models/remat.py); named here
  # so that --config.model.remat_policy can set it on top of init_from's model.
  c.model.remat_policy = 'none'
  c.log_every_steps = 100
  c.eval_every_steps = 5000
  c.checkpoint_every_steps = 5000
  c.num_eval_batches = None
  c.eval.num_examples = None
  c.early_stopping.update(metric=metric, mode='max', patience=0)
  return c


def tiny(c: ml_collections.ConfigDict, num_train_steps: int) -> ml_collections.ConfigDict:
  """Fine-tunes `--config.init_from=<workdir of a tiny pretraining run>` (e.g.
  configs/t5_small.py:tiny) in under 5 minutes on 2 CPU cores (the tiny T5 takes about ten
  steps a second there); pretrains nothing itself."""
  c.num_train_steps = num_train_steps
  c.per_device_batch_size = 16
  c.optimizer.update(learning_rate=3e-3)
  c.model.dropout_rate = 0.0
  c.log_every_steps = 10
  c.eval_every_steps = 250
  c.checkpoint_every_steps = 250
  c.num_eval_batches = 4
  c.eval.num_examples = 128
  c.early_stopping.patience = 4
  return c


def cpu_hour(c: ml_collections.ConfigDict, num_train_steps: int) -> ml_collections.ConfigDict:
  """The tiny settings with the recipe that teaches a tiny or mini T5 (configs/t5_small.py:tiny,
  :mini) to copy within a CPU hour: 64 packed rows a step (~100 examples) and AdamW at a
  constant 1e-3; at 16 rows and Adafactor it had not learned to copy after 28k examples.
  Evaluates every 500 steps and keeps the best checkpoint, without stopping early."""
  tiny(c, num_train_steps)
  c.per_device_batch_size = 64
  c.optimizer.update(name='adamw', learning_rate=1e-3, schedule='constant', warmup_steps=0)
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500
  c.early_stopping.patience = 0
  return c
