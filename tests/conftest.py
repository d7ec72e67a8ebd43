"""Shared test settings and fixtures: one XLA compilation cache and one TFDS data dir per session
(the embedded corpus is prepared and the tokenizer trained once), the order files go to xdist
workers, and tiny random T5 and GPT models for the decoding tests, with full-pass
log-probabilities to check generated tokens against (no cache involved)."""
import atexit
import dataclasses
import functools
import os
import shutil
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax import families
from lm_jax.models.gpt import GPT, GPTConfig
from lm_jax.models.t5 import T5, T5Config

# One persistent XLA compilation cache for the session: its xdist workers and the runs it starts
# as subprocesses inherit the variable, so a program compiled by one test loads in the next
# (a second tiny training run took half the CPU time). Results are the same executables'.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='lm_jax_test_xla_cache_')
  atexit.register(shutil.rmtree, os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)
jax.config.update('jax_compilation_cache_dir', os.environ['JAX_COMPILATION_CACHE_DIR'])


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory) -> str:
  return str(tmp_path_factory.mktemp('tfds_data'))


@pytest.fixture(scope='session')
def random_batch():
  """A function: (config, rows, length) -> a batch of the config's objective or task with random
  token ids (never pad or EOS), positions 0.., and every other key (loss weights, segment ids)
  all ones, cut to `length` tokens; for step-level tests that need no data pipeline."""
  from lm_jax.data import pipeline

  def make(config, rows: int, length: int) -> dict:
    shapes = pipeline.batch_shapes(config.data, rows, family=config.model.name)
    rng = np.random.default_rng(0)
    batch = {}
    for key, (shape, dtype) in shapes.items():
      if key.endswith('_tokens'):
        batch[key] = rng.integers(3, config.model.vocab_size, shape).astype(dtype)
      elif key.endswith('_positions'):
        batch[key] = np.broadcast_to(np.arange(shape[-1]), shape).astype(dtype)
      else:
        batch[key] = np.ones(shape, dtype)
    return {key: value[:, :length] for key, value in batch.items()}

  return make


@dataclasses.dataclass
class Tiny:
  model: Any
  variables: dict
  inputs: np.ndarray  # encoder inputs (T5) or right-padded prompts (GPT)
  prompt_lengths: Any = None

  @functools.cached_property
  def _apply(self):
    # One jitted apply per model: a new jax.jit(model.apply) compiles again on every call.
    return jax.jit(self.model.apply)

  def log_probs(self, generated, eos_id: int):
    """Full-pass log-softmax (B, N, V) at each generated position, and each row's count of
    scored tokens (up to and including EOS)."""
    generated = np.asarray(generated)
    model, variables = self.model, self.variables
    batch, new = generated.shape
    if families.of(model).prompt == families.ENCODER_PROMPT:
      decoder_inputs = np.concatenate([np.zeros((batch, 1), np.int32), generated[:, :-1]], 1)
      logits = self._apply(variables, self.inputs, decoder_inputs)
    else:
      lengths = self.prompt_lengths
      rows = []
      for row in range(batch):
        rows.append(np.concatenate([self.inputs[row, :lengths[row]], generated[row, :-1]]))
      width = max(len(r) for r in rows)
      padded = np.stack([np.pad(r, (0, width - len(r))) for r in rows])
      full = self._apply(variables, padded)
      logits = jnp.stack([full[row, lengths[row] - 1:lengths[row] - 1 + new]
                          for row in range(batch)])
    is_eos = generated == eos_id
    counts = np.where(is_eos.any(1), is_eos.argmax(1) + 1, new)
    return np.asarray(jax.nn.log_softmax(logits)), counts

  def total_log_prob(self, generated, eos_id: int) -> np.ndarray:
    """sum log p(token) over each row's generated tokens up to and including EOS, (B,)."""
    log_probs, counts = self.log_probs(generated, eos_id)
    generated = np.asarray(generated)
    picked = np.take_along_axis(log_probs, generated[..., None], -1)[..., 0]  # (B, N)
    mask = np.arange(generated.shape[1])[None] < counts[:, None]
    return (picked * mask).sum(1)


@pytest.fixture(scope='session')
def tiny_t5() -> Tiny:
  # Untied (v1.1 style): a random tied T5 mostly repeats its input token.
  model = T5(T5Config(vocab_size=48, d_model=32, num_heads=4, head_dim=8, d_ff=64,
                      num_encoder_layers=2, num_decoder_layers=2, dropout_rate=0.0,
                      tie_embeddings=False))
  rng = np.random.default_rng(0)
  inputs = rng.integers(2, 48, (3, 6)).astype(np.int32)
  inputs[1, 4:] = 0  # encoder padding
  variables = jax.jit(model.init)(jax.random.key(0), inputs, inputs[:, :2])
  return Tiny(model, variables, inputs)


@pytest.fixture(scope='session')
def tiny_gpt() -> Tiny:
  # init_std 0.3: peaked random logits, so greedy choices are not near-ties.
  model = GPT(GPTConfig(vocab_size=48, d_model=32, num_heads=4, head_dim=8, d_ff=64,
                        num_layers=2, max_length=24, dropout_rate=0.0,
                        attention_dropout_rate=0.0, init_std=0.3))
  rng = np.random.default_rng(1)
  inputs = rng.integers(0, 48, (3, 5)).astype(np.int32)  # 0 is a real token here
  variables = jax.jit(model.init)(jax.random.key(1), inputs)
  return Tiny(model, variables, inputs, prompt_lengths=np.array([5, 2, 3], np.int32))


# The README's command runs the suite on two pytest-xdist workers, whole files at a time. These
# files take minutes each (subprocess runs, notebooks, several trainings); started first, the many
# short files fill in around them (longest first). xdist's own order, most tests first, would
# start them last and leave one worker idle at the end.
SLOWEST_FILES = (
    'tests/train/test_multi_host.py',
    'tests/train/test_finetune_loop.py',
    'tests/train/test_adapters_loop.py',
    'tests/test_notebooks.py',
    'tests/train/test_preference_loop.py',
    'tests/partitioning/test_meshes.py',
    'tests/train/test_loop.py',
    'tests/train/test_families.py',
    'tests/train/test_multi_device.py',
    'tests/train/test_crash_resume.py',
    'tests/sweep/test_runner.py',
    'tests/train/run_dir/test_integrity.py',
    'tests/convert/test_peft_adapters.py',
)


def pytest_collection_modifyitems(items):
  rank = {path: i for i, path in enumerate(SLOWEST_FILES)}
  items.sort(key=lambda item: rank.get(item.nodeid.split('::')[0], len(rank)))  # stable


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
  from xdist.scheduler import LoadFileScheduling
  config.option.loadscopereorder = False  # keep the order above
  return LoadFileScheduling(config, log)
