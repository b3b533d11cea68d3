# WSGIAuthGroupScript: groups_for_user for 'Require wsgi-group'.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hookutil  # noqa: E402


def groups_for_user(environ, user):
    hookutil.record("groups_for_user", environ, user=user)
    if user == "alice":
        return ["staff", "users"]
    if user == "bob":
        return [b"users"]
    if user == "grp-bytes":
        return iter([b"admins"])
    if user == "grp-none":
        return []
    if user == "grp-bad":
        return 42
    if user == "grp-raise":
        raise ValueError("groups_for_user failed on purpose")
    return []
