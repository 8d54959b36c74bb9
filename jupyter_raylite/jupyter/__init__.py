"""The Jupyter layer: the kernel extension, its magics and its displays.

It reads the runtime through the public API and the runtime's hooks; nothing in ``core``
imports it.
"""
