"""Experiment configs: every key with its default and the start-up checks (`schema`), and the
settings config files share (`presets`). Entry points validate once; resolving what
`init_from`, a task and a trained run decide is lm_jax/train/run_config.py's job."""
