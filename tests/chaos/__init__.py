"""Chaos: kills of every process of a real node under load, and what users see after."""
