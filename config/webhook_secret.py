"""TRAINQ_WEBHOOK_SECRET as Standard Webhooks defines a secret: "whsec_" + base64 of the key.

The HMAC is keyed with the decoded bytes, not the string: that is what every Standard Webhooks
library does on the receiving side, so it is the only keying a receiver can verify.
"""
from __future__ import annotations

import base64
import binascii

PREFIX = "whsec_"
#: The spec asks for 24 to 64 bytes of key; shorter keys are refused, not merely discouraged.
MIN_KEY_BYTES = 24
GENERATE = ("python -c \"import base64,secrets; "
            "print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\"")


def parse_webhook_secret(value: str) -> bytes:
    """The HMAC key of a secret given with or without the whsec_ prefix; b"" when unset."""
    from config.settings import SettingsError  # settings imports this module

    text = value.strip()
    if not text:
        return b""
    key = _decode(text.removeprefix(PREFIX))
    if key is None or len(key) < MIN_KEY_BYTES:
        found = "is not valid base64" if key is None else f"decodes to only {len(key)} bytes"
        raise SettingsError(
            f"TRAINQ_WEBHOOK_SECRET {found}; it must be {PREFIX} followed by the base64 of "
            f"at least {MIN_KEY_BYTES} random bytes (Standard Webhooks). "
            f"Generate one with: {GENERATE}")
    return key


def _decode(encoded: str) -> bytes | None:
    # validate=True: the receivers' libraries decode leniently (skipping stray characters), so
    # only a strictly valid secret is certain to give them the same key as ours. Missing padding
    # is restored, as the reference library does.
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return None
