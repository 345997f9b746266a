"""Contexts: what the application does (accounts, tokens, posts), called by the web layer.

A context function validates, hashes on the dirty pool, and reads and writes through the
Repo; the web handlers stay thin. Contexts import ``otp``, ``actors`` and ``store``.
"""
