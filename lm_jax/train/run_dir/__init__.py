"""The run directory (`--workdir`): its layout and format version, the config and tokenizer a run
trained with, its train-state and best checkpoints, and reading its parameters without touching
it (layout.py says what is where). Nothing else in lm_jax opens a run's files by name."""
from lm_jax.train.run_dir.integrity import CheckpointError, NonFiniteStateError
from lm_jax.train.run_dir.layout import FORMAT_VERSION, RunDir, RunFormatError

__all__ = ['CheckpointError', 'FORMAT_VERSION', 'NonFiniteStateError', 'RunDir', 'RunFormatError']
