"""Observing the cluster: a model folded from the runtime's events, the thread that feeds it,
and the timeline.  Widgets (jupyter_raylite.widgets) are views of this model."""
