# Dumps the WSGI environ (and facts about the interpreter) as JSON.
import json
import os
import sys

if not hasattr(sys, "_mwt_tag"):
    sys._mwt_tag = "%d-%s" % (os.getpid(), os.urandom(6).hex())
IMPORT_TAG = os.urandom(6).hex()


def _interp_is_main():
    # asks the C API directly (_xxsubinterpreters is single-phase init and unreliable across interpreters)
    try:
        import ctypes
        api = ctypes.pythonapi
        api.PyInterpreterState_Get.restype = ctypes.c_void_p
        api.PyInterpreterState_Main.restype = ctypes.c_void_p
        return api.PyInterpreterState_Get() == api.PyInterpreterState_Main()
    except Exception as e:  # pragma: no cover
        return "unknown: %r" % (e,)


def describe(environ):
    out = {}
    for k, v in environ.items():
        out[k] = v if isinstance(v, str) else {"repr": repr(v), "type": type(v).__name__}
    import threading
    extra = {
        "pid": os.getpid(),
        "interp_tag": sys._mwt_tag,
        "import_tag": IMPORT_TAG,
        "is_main_interpreter": _interp_is_main(),
        "wsgi.version": list(environ["wsgi.version"]),
        "wsgi.multithread": environ["wsgi.multithread"],
        "wsgi.multiprocess": environ["wsgi.multiprocess"],
        "wsgi.run_once": environ["wsgi.run_once"],
        "wsgi.input_terminated": environ.get("wsgi.input_terminated", "<absent>"),
        "mod_wsgi.version": list(environ["mod_wsgi.version"]) if "mod_wsgi.version" in environ else None,
        "apache.version": list(environ["apache.version"]) if "apache.version" in environ else None,
        "flags.optimize": sys.flags.optimize,
        "flags.hash_randomization": sys.flags.hash_randomization,
        "flags.dont_write_bytecode": sys.flags.dont_write_bytecode,
        "dont_write_bytecode": sys.dont_write_bytecode,
        "hash_a": hash("a"),
        "warnoptions": list(sys.warnoptions),
        "sys.path": list(sys.path),
        "main_thread_is_current": threading.main_thread() is threading.current_thread(),
        "main_thread_ident": threading.main_thread().ident,
        "current_thread_ident": threading.get_ident(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "preloaded": getattr(sys, "_mwt_preloaded", None),
        "which_callable": environ.get("which_callable", "application"),
    }
    try:
        import mwt_pathmod
        extra["pathmod"] = mwt_pathmod.VALUE
    except ImportError as e:
        extra["pathmod"] = "ImportError: %s" % e
    try:
        import mod_wsgi
        extra["mod_wsgi_module"] = {
            "version": list(mod_wsgi.version),
            "process_group": mod_wsgi.process_group,
            "application_group": mod_wsgi.application_group,
            "maximum_processes": mod_wsgi.maximum_processes,
            "threads_per_process": mod_wsgi.threads_per_process,
        }
    except Exception as e:
        extra["mod_wsgi_module"] = "error: %r" % (e,)
    # codecs must work in every interpreter
    try:
        import codecs
        extra["codecs"] = [
            "h\u00e9llo \u20ac".encode("utf-8").hex(),
            "h\u00e9llo".encode("latin-1").hex(),
            b"\xe2\x82\xac".decode("utf-8"),
            "\u00e9".encode("cp1252").hex(),
            codecs.lookup("idna").name,
            "b\u00fccher.example".encode("idna").decode("ascii"),
        ]
    except Exception as e:
        extra["codecs"] = "error: %r" % (e,)
    out["_"] = extra
    return out


def application(environ, start_response):
    body = json.dumps(describe(environ), sort_keys=True).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body))),
                              ("X-Method", environ["REQUEST_METHOD"])])
    return [body]


def app2(environ, start_response):
    environ = dict(environ)
    environ["which_callable"] = "app2"
    return application(environ, start_response)
