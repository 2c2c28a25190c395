"""Sliding-window inference over videos, its results in the store, and predicted events."""
