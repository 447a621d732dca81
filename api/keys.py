"""The API key format: `mak_<8-character id>_<secret>`."""

import hashlib
import hmac
import secrets
import string

KEY_TAG = "mak"
PREFIX_LENGTH = 8
PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_BYTES = 32
MAX_KEY_LENGTH = 200


def new_prefix() -> str:
    return "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    # The secret has 256 bits of entropy: a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def format_key(prefix: str, secret: str) -> str:
    return f"{KEY_TAG}_{prefix}_{secret}"


def parse_key(raw: str) -> tuple[str, str] | None:
    """(prefix, secret), or None when `raw` is not shaped like one of our keys."""
    if not raw or len(raw) > MAX_KEY_LENGTH or not raw.isascii():
        return None
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_TAG:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != PREFIX_LENGTH or any(c not in PREFIX_ALPHABET for c in prefix):
        return None
    if len(secret) < 20:
        return None
    return prefix, secret
