"""Runnable examples: ``python -m client_sdk.examples.bot`` and ``...examples.terminal``."""
