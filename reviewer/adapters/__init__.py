"""Adapters: the outside world (GitHub, the LLM, storage) behind the core's interfaces."""
