"""Ponder's agents: model backends, the reasoning search, the router and the language node."""
