"""The larger configs build the published models: their parameter counts, from shapes alone."""
import jax
import pytest

from lm_jax import families, models
from lm_jax.config.schema import load_config
from lm_jax.data import pipeline
from lm_jax.train import train_step as steps

# Millions of parameters: the Hugging Face checkpoints' counts (T5 with its 32,128-id vocabulary;
# GPT-2 with 50,257; BERT with 30,522 and its pooler-less MLM head), SmolLM-135M's.
PUBLISHED = {'t5_base': 222.9, 't5_large': 737.7, 't5_v1_1_base': 247.6, 't5_v1_1_large': 783.2,
             'gpt2_medium': 354.8, 'gpt2_large': 774.0, 'bert_large': 335.2,
             'llama_style': 134.5}


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_config_builds_the_published_model(name):
  config = load_config(f'configs/{name}.py')
  model = models.build_model(config.model)
  shapes = pipeline.batch_shapes(config.data, 1, family=families.of(model).name)
  params = jax.eval_shape(lambda rng: steps.init_params(model, rng, shapes), jax.random.key(0))
  count = sum(x.size for x in jax.tree.leaves(params)) / 1e6
  assert count == pytest.approx(PUBLISHED[name], abs=0.1)
