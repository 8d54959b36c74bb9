"""Rich displays for ObjectRefs and actor handles, registered by the extension."""

from __future__ import annotations

import html

from jupyter_raylite.core import context


def object_ref_html(ref) -> str:
    """An ObjectRef's state (pending, ready, failed) and, when ready and small, a preview."""
    runtime = context.current_runtime(auto=False)
    state, nbytes = runtime.object_state(ref.hex()) if hasattr(runtime, "object_state") \
        else ("lost", 0)
    detail = {"lost": "not in the current cluster", "failed": "get() raises its error",
              "pending": f"from {html.escape(ref._owner_hint)}()" if ref._owner_hint else ""}
    detail = _preview(runtime, ref, nbytes) if state == "ready" else detail[state]
    colour = {"pending": "#d9a400", "ready": "#2e8b57", "failed": "#c0392b"}.get(state, "#777")
    return (f"<span class='raylite-ref'><code>ObjectRef({html.escape(ref.hex())})</code> "
            f"<b style='color:{colour}'>{state}</b> {detail}</span>")


def _preview(runtime, ref, nbytes: int) -> str:
    if nbytes > 10_000:
        return f"{nbytes / 2**20:.1f} MiB"
    try:
        text = repr(runtime.get([ref], 0)[0])
    except Exception:
        return f"{nbytes} bytes"
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"<code>{html.escape(text)}</code>"


def actor_handle_html(handle) -> str:
    """An actor handle's class, id and state (pending, alive, dead)."""
    runtime = context.current_runtime(auto=False)
    state = runtime.actor_state(handle._actor_id) if hasattr(runtime, "actor_state") \
        else "unknown"
    colour = {"pending": "#d9a400", "alive": "#2e8b57", "dead": "#c0392b"}.get(state, "#777")
    return (f"<span class='raylite-actor'>Actor <b>{html.escape(handle._class_name)}</b> "
            f"<code>{html.escape(handle._actor_id)}</code> "
            f"<b style='color:{colour}'>{state}</b></span>")
