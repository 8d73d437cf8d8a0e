"""t1d-qa: cited, grounded answers about stem-cell therapy for type 1 diabetes."""

from .answer import Answer, Pipeline
from .config import Settings

__all__ = ["Answer", "Pipeline", "Settings", "ask"]
__version__ = "0.1.0"


def ask(question: str, settings: Settings | None = None, history=None) -> Answer:
    """Answer one question with a pipeline loaded for this call (load once for many)."""
    return Pipeline.load(settings or Settings.from_env()).ask(question, history=history)
