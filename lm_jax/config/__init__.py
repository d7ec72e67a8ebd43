"""Experiment configs: every key with its default and the start-up checks (`schema`), and the
settings config files share (`presets`). Entry points validate once; resolving what
`init_from` and a task decide is the run directory's job (lm_jax/train/run_config.py)."""
