"""Protocol conformance suites: every implementation of a protocol, fakes included.

Each ``test_*_contract.py`` module parametrizes one fixture over the implementations of one
protocol and checks the promises the protocol's docstrings make. A new implementation
joins by adding one ``pytest.param`` to that fixture, and must pass the whole module.

Real weights load only in tests marked ``real_model`` or ``real_embedder``, through the
session fixtures of ``tests/conftest.py``, whose switches refuse real weights elsewhere,
so a fake-backed case cannot pass by loading weights.

Helpers from other test folders import by their path under ``tests/`` (for example
``reasoning.reasoning_fakes``): pytest puts ``tests/`` on the import path for the root
``conftest.py``.
"""
