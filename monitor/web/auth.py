"""Who is asking: password hashes (argon2id, argon2-cffi), the signed session cookie (Starlette's
SessionMiddleware, itsdangerous), per-session CSRF tokens, and bearer tokens for the API.

The session holds only the user's id and the CSRF token; the user (role, sites) is read from the
store on every request, so a changed account takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from . import store

_HASHER = PasswordHasher()       # argon2id, RFC 9106 low-memory profile (argon2-cffi's default)
# verified against when the user does not exist, so a wrong name costs as long as a wrong password
_DUMMY = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(conn, name: str, password: str):
    """The User when `password` is theirs, else None (the same time either way)."""
    stored = store.password_hash(conn, name)
    try:
        _HASHER.verify(stored or _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        store.set_password_hash(conn, name, _HASHER.hash(password))
    return store.user_by_name(conn, name)


def csrf_token(session: dict) -> str:
    """The session's CSRF token (made on first use): every form carries it as `csrf_token`."""
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(32)
    return tok


def csrf_ok(session: dict, sent) -> bool:
    want = session.get("csrf")
    return bool(want) and isinstance(sent, str) and hmac.compare_digest(want, sent)


def session_user(request):
    """The logged-in user of a page request, or None."""
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    return store.user_by_id(request.app.state.store.conn, uid)


def bearer_user(request):
    """The user of an API request (Authorization: Bearer TOKEN), or None."""
    head = request.headers.get("authorization", "")
    kind, _, token = head.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return None
    return store.user_by_token(request.app.state.store.conn, token.strip())
