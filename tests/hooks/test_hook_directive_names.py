"""Issue 13, point 8: every directive of mod_wsgi 4.9 is known to the module, so no existing
configuration stops Apache from starting. Each name is checked with Apache's own configuration
test (`apache2 -t`) against the module's command table."""
import pytest

from hooks_harness import HooksApache, AUTH_MODULES

# The command table of mod_wsgi 4.9.4 (src/server/mod_wsgi.c, wsgi_commands), each with a
# valid sample line and the context it is allowed in.
SERVER = "server"
LOCATION = "location"
MOD_WSGI_49_DIRECTIVES = [
    ("WSGIScriptAlias", "/x @APPS@/access.py", SERVER),
    ("WSGIScriptAliasMatch", "^/y(.*) @APPS@/access.py", SERVER),
    ("WSGIDaemonProcess", "names-test processes=1 threads=1", SERVER),
    ("WSGISocketPrefix", "@DIR@/run/wsgi", SERVER),
    ("WSGISocketRotation", "On", SERVER),
    ("WSGIAcceptMutex", "default", SERVER),
    ("WSGILazyInitialization", "On", SERVER),
    ("WSGIVerboseDebugging", "Off", SERVER),
    ("WSGIDontWriteBytecode", "Off", SERVER),
    ("WSGIPythonWarnings", "ignore::DeprecationWarning", SERVER),
    ("WSGIPythonOptimize", "0", SERVER),
    ("WSGIPythonHome", "/usr", SERVER),
    ("WSGIPythonPath", "@APPS@", SERVER),
    ("WSGIPythonEggs", "@DIR@/run", SERVER),
    ("WSGIPythonHashSeed", "random", SERVER),
    ("WSGIDestroyInterpreter", "On", SERVER),
    ("WSGIRestrictEmbedded", "Off", SERVER),
    ("WSGIRestrictStdin", "On", SERVER),
    ("WSGIRestrictStdout", "Off", SERVER),
    ("WSGIRestrictSignal", "On", SERVER),
    ("WSGICaseSensitivity", "On", SERVER),
    ("WSGIRestrictProcess", "names-test", LOCATION),
    ("WSGIProcessGroup", "%{GLOBAL}", LOCATION),
    ("WSGIApplicationGroup", "%{GLOBAL}", LOCATION),
    ("WSGICallableObject", "application", LOCATION),
    ("WSGIImportScript", "@APPS@/hookutil.py process-group=%{GLOBAL} application-group=%{GLOBAL}", SERVER),
    ("WSGIDispatchScript", "@APPS@/dispatch.py", LOCATION),
    ("WSGIPassApacheRequest", "Off", LOCATION),
    ("WSGIPassAuthorization", "Off", LOCATION),
    ("WSGIScriptReloading", "On", LOCATION),
    ("WSGIErrorOverride", "Off", LOCATION),
    ("WSGIChunkedRequest", "Off", LOCATION),
    ("WSGIMapHEADToGET", "Auto", LOCATION),
    ("WSGIIgnoreActivity", "Off", LOCATION),
    ("WSGITrustedProxyHeaders", "X-Forwarded-For X-Forwarded-Proto", LOCATION),
    ("WSGITrustedProxies", "127.0.0.1 10.0.0.0/8", LOCATION),
    ("WSGIEnableSendfile", "Off", LOCATION),
    ("WSGIAccessScript", "@APPS@/access.py", LOCATION),
    ("WSGIAuthUserScript", "@APPS@/auth.py application-group=auth", LOCATION),
    ("WSGIAuthGroupScript", "@APPS@/groups.py", LOCATION),
    # Only on Apache 2.2 in mod_wsgi 4.9 (unknown to it on 2.4); accepted here so no configuration breaks.
    ("WSGIUserAuthoritative", "On", LOCATION),
    ("WSGIGroupAuthoritative", "On", LOCATION),
    ("WSGIHandlerScript", "names-handler @APPS@/access.py", LOCATION),
    ("WSGINewRelicConfigFile", "@DIR@/newrelic.ini", SERVER),
    ("WSGINewRelicEnvironment", "production", SERVER),
    ("WSGIServerMetrics", "Off", SERVER),
]


def _conf(name, args, where):
    line = "%s %s" % (name, args)
    if where == LOCATION:
        return "<Location /names>\n%s\n</Location>\n" % line
    return line + "\n"


def test_the_list_is_mod_wsgi_49s_command_table():
    names = [n for n, _, _ in MOD_WSGI_49_DIRECTIVES]
    assert len(names) == len(set(names)) == 46


# mod_wsgi 6.0 removed these; every 4.9 directive stays known here.
REMOVED_IN_6 = {"WSGILazyInitialization", "WSGINewRelicConfigFile", "WSGINewRelicEnvironment"}


def _marks(d):
    if d[0] == "WSGIUserAuthoritative":
        return pytest.param(*d, marks=pytest.mark.ours_only)
    if d[0] in REMOVED_IN_6:
        return pytest.param(*d, marks=pytest.mark.mod_wsgi_49("removed by mod_wsgi 6.0; 4.9's directives stay"))
    return d


@pytest.mark.parametrize("name,args,where", [_marks(d) for d in MOD_WSGI_49_DIRECTIVES],
                         ids=[d[0] for d in MOD_WSGI_49_DIRECTIVES])
def test_directive_is_known(module_file, name, args, where):
    # Daemon-only directives refer to a group: define it unless the line is the definition.
    prefix = "" if name == "WSGIDaemonProcess" else "WSGIDaemonProcess names-test processes=1 threads=1\n"
    a = HooksApache(prefix + _conf(name, args, where), modules=AUTH_MODULES, name="names")
    try:
        rc, out = a.configtest()
        assert "Invalid command" not in out, out
        assert rc == 0 and "Syntax OK" in out, out
    finally:
        a.cleanup()


def test_an_unknown_name_fails_the_same_check(module_file):
    # The check above can fail: a name the module does not know stops Apache's config test.
    a = HooksApache("WSGINoSuchDirective On\n", name="names")
    try:
        rc, out = a.configtest()
        assert rc != 0 and "Invalid command 'WSGINoSuchDirective'" in out, out
    finally:
        a.cleanup()


@pytest.mark.ours_only
def test_every_directive_at_once_starts_apache(hooks_factory):
    text = "".join(_conf(n, a, w) for n, a, w in MOD_WSGI_49_DIRECTIVES)
    a = hooks_factory(text, modules=AUTH_MODULES)
    assert a.get("/names").status in (200, 403, 404, 500)


@pytest.mark.ours_only
def test_new_relic_directives_warn_once_at_start_up(hooks_factory):
    a = hooks_factory("WSGINewRelicConfigFile @DIR@/newrelic.ini\nWSGINewRelicEnvironment production\n"
                      "WSGIScriptAlias /env @APPS@/env.wsgi\n")
    assert a.get("/env").status == 200
    log = a.log()
    assert log.count("WSGINewRelicConfigFile does nothing") == 1, log
    assert log.count("WSGINewRelicEnvironment does nothing") == 1, log
    assert "MW1307" in log


@pytest.mark.ours_only
def test_authoritative_off_warns_that_it_has_no_effect(hooks_factory):
    a = hooks_factory("<Location /x>\nWSGIUserAuthoritative Off\nWSGIGroupAuthoritative Off\n</Location>\n")
    log = a.log()
    assert log.count("WSGIUserAuthoritative Off has no effect on Apache 2.4") == 1, log
    assert log.count("WSGIGroupAuthoritative Off has no effect on Apache 2.4") == 1, log


@pytest.mark.ours_only  # our messages
@pytest.mark.parametrize("line,message", [
    ("WSGIAccessScript @APPS@/access.py process-group=x", "Invalid option to WSGI script definition"),
    ("WSGIAuthUserScript @APPS@/auth.py application-group=%{RESOURCE}", "application-group=%{RESOURCE}"),
    ("WSGITrustedProxyHeaders X-Not-A-Proxy-Header", "is not a proxy header mod_wsgi understands"),
    ("WSGITrustedProxies not-an-address", "is not an IP address or network"),
])
def test_bad_hook_directives_say_what_is_wrong(module_file, line, message):
    a = HooksApache("<Location /x>\n%s\n</Location>\n" % line, name="names")
    try:
        rc, out = a.configtest()
        assert rc != 0 and message in out, out
    finally:
        a.cleanup()
