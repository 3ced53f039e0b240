"""The portal's part of the web app's lifespan: its cache and the change listeners."""

from __future__ import annotations

from tierline.portal.cache import lifespan

__all__ = ["lifespan"]
