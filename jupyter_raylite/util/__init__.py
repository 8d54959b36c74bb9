"""Utilities built on actors, with Ray's names: ``ActorPool`` and ``queue.Queue``."""

from jupyter_raylite.util.actor_pool import ActorPool

__all__ = ["ActorPool"]
