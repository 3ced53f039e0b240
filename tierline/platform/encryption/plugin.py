"""What field encryption adds: the ``keys`` command (key rotation)."""

from tierline.platform.plugins import Command, Plugin

PLUGIN = Plugin(commands=(Command("keys", "tierline.platform.encryption.cli:keys_app"),))
