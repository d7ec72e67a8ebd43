"""The names a config chooses among, each list owned once here, at the bottom of the import graph,
so that the config schema and the code that acts on a choice import the same list without a
cycle. Registries that own their names (objectives, tasks, metrics, models, families) keep them.
"""
RUN_MODES = ('train', 'eval', 'generate', 'merge')  # lm_jax/modes.py
OPTIMIZERS = ('adamw', 'adafactor')                 # lm_jax/train/optimizers.py
SCHEDULES = ('rsqrt', 'cosine', 'linear', 'constant')
FINETUNE_MODES = ('full', 'frozen')                 # lm_jax/train/finetune.py
PEFT_METHODS = ('none', 'lora', 'prefix', 'prompt')  # lm_jax/peft, lm_jax/train/adapters.py
PROMPT_INITS = ('vocab', 'text')                    # lm_jax/peft/prompt.py
LORA_INITS = ('kaiming', 'gaussian')                # lm_jax/peft/lora.py
EARLY_STOPPING_MODES = ('max', 'min')               # lm_jax/train/early_stopping.py
EVAL_CHECKPOINTS = ('latest', 'best')
NONFINITE_ACTIONS = ('stop', 'skip')                # lm_jax/train/nonfinite.py
DECODING_STRATEGIES = ('greedy', 'sample', 'beam')  # lm_jax/generation/decoding.py
# Pretraining with human preferences (Korbak et al. 2023): lm_jax/train/preference_losses.py and
# lm_jax/data/scored_lm.py; 'none' is an ordinary run.
PREFERENCE_OBJECTIVES = ('none', 'mle', 'filtering', 'conditional', 'unlikelihood', 'rwr', 'awr')
