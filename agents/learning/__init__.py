"""Ponder learns from its own search: a value model and expert iteration.

One round of learning, each step a ``ponder learn`` command that resumes after a stop:

1. **collect** (:mod:`~ponder.agents.learning.collect`): wide search trees on training
   items (:mod:`~ponder.agents.learning.tasks`), every finished chain rewarded by the
   verifier, every node's features read from the policy
   (:mod:`~ponder.agents.learning.features`), stored as traces plus features
   (:mod:`~ponder.agents.learning.store`).
2. **train-head** (:mod:`~ponder.agents.learning.train_head`): Monte-Carlo values and
   sibling preferences (:mod:`~ponder.agents.learning.labels`) train a small head
   (:mod:`~ponder.agents.learning.head`), which the search uses as ``scorer: learned``
   (:mod:`ponder.agents.reasoning.learned_scorer`).
3. **gate** (:mod:`~ponder.agents.learning.gate`): the head must rank held-out trees
   better than the rules before a benchmark is worth running.
4. **finetune** (:mod:`~ponder.agents.learning.finetune`): LoRA on the policy's own
   verified chains (:mod:`~ponder.agents.learning.chains`); the adapter loads with the
   model (``adapter:`` in model settings), and the next round collects with it.

Heavy libraries (torch, peft, scikit-learn, reasoning-gym) are imported only by the
functions that need them.
"""

from ponder.agents.learning.chains import VerifiedChain, verified_chains
from ponder.agents.learning.collect import CollectConfig, CollectReport, collect, manifest_for
from ponder.agents.learning.features import SCALARS, FeatureExtractor, FeatureRows
from ponder.agents.learning.gate import gate
from ponder.agents.learning.head import HeadError, ValueHead, find_head
from ponder.agents.learning.labels import (
    NodeLabel,
    PreferencePair,
    greedy_leaf,
    leaf_rewards,
    monte_carlo_values,
    preference_pairs,
)
from ponder.agents.learning.store import CollectionManifest, CollectionStore, labelled_set
from ponder.agents.learning.train_head import TrainOptions, train_head
from ponder.agents.learning.wide import tree_budget, wide_tree

__all__ = [
    "SCALARS",
    "CollectConfig",
    "CollectReport",
    "CollectionManifest",
    "CollectionStore",
    "FeatureExtractor",
    "FeatureRows",
    "HeadError",
    "NodeLabel",
    "PreferencePair",
    "TrainOptions",
    "ValueHead",
    "VerifiedChain",
    "collect",
    "find_head",
    "gate",
    "greedy_leaf",
    "labelled_set",
    "leaf_rewards",
    "manifest_for",
    "monte_carlo_values",
    "preference_pairs",
    "train_head",
    "tree_budget",
    "verified_chains",
    "wide_tree",
]
