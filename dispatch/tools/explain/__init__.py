"""dispatch explain's text; the explanation itself is the core's (dispatch.core.explain)."""
