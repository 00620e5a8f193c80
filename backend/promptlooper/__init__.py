"""PromptLooper: the LLM pipeline tuning workbench."""
__version__ = "0.1.0"
