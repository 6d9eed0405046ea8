"""The LLM pass of an agent, pure: pick hunks, fit a token budget, build prompts, parse, map, price.

Network calls live in ``reviewer.adapters.llm``; this package receives them as callables.
"""
