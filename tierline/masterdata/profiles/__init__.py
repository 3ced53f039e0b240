"""Mapping profiles: how a source system's export maps onto an importable entity.

``definition`` is what a profile says (columns, value translations, file options) and checks it;
``presets`` are the profiles Tierline ships; ``service`` reads a tenant's saved profiles over the
presets and saves new ones; ``models`` holds the table; ``controllers`` the page and API.
"""
