"""assay: curate instruction-tuning data with LLM agents, every decision traced."""

import os as _os

# litellm otherwise fetches its model price map from the internet at import time; the
# bundled copy is used unless the user asks otherwise.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"
