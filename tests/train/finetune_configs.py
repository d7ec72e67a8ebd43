"""The configs the fine-tuning tests start from: a `configs/` file on the session's data dir,
without decoded samples, with overrides."""
import os

from lm_jax.config.schema import load_config, override
from lm_jax.train import loop

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config_for(spec, data_dir, **changes):
  config = load_config(os.path.join(REPO, 'configs', spec))
  config.data.data_dir = data_dir
  config.num_samples = 0
  return override(config, changes)


def pretrain_tiny_t5(data_dir, workdir: str) -> str:
  """The tiny T5 pretrained 20 steps into `workdir`: the base the fine-tuning tests load."""
  loop.train_and_evaluate(config_for('t5_small.py:tiny', data_dir, num_train_steps=20,
                                     eval_every_steps=20, checkpoint_every_steps=20), workdir)
  return workdir
