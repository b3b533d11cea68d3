# WSGIAuthUserScript: the provider 'wsgi' for Basic (check_password) and Digest (get_realm_hash).
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hookutil  # noqa: E402

PASSWORDS = {"alice": "secret", "bob": "builder", "\u00e9t\u00e9": "p\u00e4ss",
             "grp-none": "x", "grp-bad": "x", "grp-raise": "x", "grp-bytes": "x"}


def check_password(environ, user, password):
    hookutil.record("check_password", environ, user=user, password=password, **hookutil.interpreter())
    if user == "nobody":
        return None
    if user == "renamed":
        return "renamed-as-carol"
    if user == "renamed-bytes":
        return b"dave"
    if user == "bad":
        return 42
    if user == "raise":
        raise ValueError("check_password failed on purpose")
    if user in PASSWORDS:
        return PASSWORDS[user] == password
    return None


def get_realm_hash(environ, user, realm):
    hookutil.record("get_realm_hash", environ, user=user, realm=realm)
    if user == "bad":
        return 42
    if user == "raise":
        raise ValueError("get_realm_hash failed on purpose")
    if user == "bytes":
        return hashlib.md5(("bytes:%s:pw" % realm).encode()).hexdigest().encode()
    if user not in PASSWORDS:
        return None
    return hashlib.md5(("%s:%s:%s" % (user, realm, PASSWORDS[user])).encode("latin-1")).hexdigest()
