"""The one interface every mask backend implements.

A backend receives the photo and the prompts (built from landmarks before it runs) and returns, per prompt,
candidate masks. It may also return a shared pool of whole-photo candidates (automatic mask generation) that
any instance can draw from. The pipeline, not the backend, picks each instance's mask by agreement with the
landmark prior (`core.masks.selection`), so every backend is judged the same way.
"""
from __future__ import annotations

import numpy as np

from ..types import Candidates  # noqa: F401  (re-exported: backends return it)


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (no token, no weights, service down); the message is shown to the user."""


class Backend:
    name = "base"
    # In backend="auto", say so when this backend is not set up (True for Replicate: a Space owner who forgot the
    # token secret should see why the masks are the offline ones). Failures are always reported.
    announce_absence = True

    def available(self) -> tuple:
        """(ready, reason). Cheap: no network, no model load."""
        return True, ""

    def available_for(self, options: dict) -> tuple:
        """`available()` for one request's options (a visitor's own token, another model id)."""
        return self.available()

    def propose(self, image: np.ndarray, prompts: list, **options) -> Candidates:
        raise NotImplementedError
