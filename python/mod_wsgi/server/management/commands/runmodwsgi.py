"""`python manage.py runmodwsgi [start-server options]`: serves the Django project with
Apache and mod_wsgi, as mod_wsgi 4.9's command does.

The options are start-server's, all of them, parsed by mod_wsgi-express itself: this command
takes out Django's own options, puts in front what it reads from the settings, and replaces
itself with `mod_wsgi-express start-server ...` (which then runs Apache: as a child on a
terminal, forwarding signals, else by exec). Given options come after the derived ones, so
they win (e.g. --working-directory).

From the settings (mod_wsgi 4.9's rules):
- WSGI_APPLICATION 'pkg.wsgi.application' -> --application-type module, entry point pkg.wsgi,
  callable object application;
- BASE_DIR (else the parent of the settings' top package) -> --working-directory, which is
  also where the application's modules are imported from;
- STATIC_URL (starting with '/') and STATIC_ROOT -> --url-alias STATIC_URL STATIC_ROOT, unless
  WhiteNoise's middleware is in MIDDLEWARE (it serves the static files itself).
"""
import os
import subprocess
import sys

from django.core.management.base import BaseCommand, CommandError

import mod_wsgi.server

WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"

# Django's options every command takes (name -> takes a value).
DJANGO_OPTIONS = {"--settings": True, "--pythonpath": True, "--verbosity": True, "-v": True,
                  "--traceback": False, "--no-color": False, "--force-color": False, "--skip-checks": False}


def split_django_options(args):
    """(start-server arguments, Django options) from the words after `runmodwsgi`."""
    rest, options = [], {}
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, value = a.partition("=")
        if a == "--":
            rest += args[i:]
            break
        if name in DJANGO_OPTIONS:
            key = name.lstrip("-").replace("-", "_")
            key = "verbosity" if key == "v" else key
            if DJANGO_OPTIONS[name]:
                if not eq:
                    if i + 1 >= len(args):
                        raise CommandError("%s needs a value" % name)
                    i += 1
                    value = args[i]
                options[key] = int(value) if key == "verbosity" else value
            else:
                options[key] = True
        else:
            rest.append(a)
        i += 1
    return rest, options


def settings_arguments(settings):
    """The start-server options the Django settings imply."""
    wsgi = getattr(settings, "WSGI_APPLICATION", None)
    if not wsgi or "." not in wsgi:
        raise CommandError("WSGI_APPLICATION is not set in the settings: set it to the application's dotted "
                           "path, e.g. 'mysite.wsgi.application'")
    module, callable_object = wsgi.rsplit(".", 1)
    args = ["--application-type", "module", "--entry-point", module, "--callable-object", callable_object]

    base = getattr(settings, "BASE_DIR", None)
    if base is None:
        top = os.environ["DJANGO_SETTINGS_MODULE"].split(".")[0]
        base = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules[top].__file__)))
    args += ["--working-directory", str(base)]

    middleware = getattr(settings, "MIDDLEWARE", None)
    if middleware is None:
        middleware = getattr(settings, "MIDDLEWARE_CLASSES", None) or []
    if WHITENOISE not in middleware:
        url = getattr(settings, "STATIC_URL", None)
        root = getattr(settings, "STATIC_ROOT", None)
        if url and str(url).startswith("/") and root:
            args += ["--url-alias", str(url).rstrip("/") or "/", str(root)]
    return args


class Command(BaseCommand):
    help = ("Starts Apache/mod_wsgi serving this project (mod_wsgi-express start-server with the "
            "application, working directory and static files taken from the settings). "
            "Takes every start-server option.")

    def run_from_argv(self, argv):
        self._called_from_command_line = True
        rest, django_options = split_django_options(argv[2:])
        if "-h" in rest or "--help" in rest:
            self.print_help(argv[0], argv[1])
            return
        options = {"verbosity": 1, "settings": None, "pythonpath": None, "traceback": False,
                   "no_color": False, "force_color": False, "skip_checks": False}
        options.update(django_options)
        try:
            self.execute(*rest, **options)
        except CommandError as e:
            if options["traceback"]:
                raise
            self.stderr.write("%s: %s" % (e.__class__.__name__, e))
            sys.exit(getattr(e, "returncode", 1))

    def print_help(self, prog_name, subcommand):
        exe = mod_wsgi.server.executable()
        out = subprocess.run([exe, "start-server", "--help"], stdout=subprocess.PIPE, universal_newlines=True).stdout
        self.stdout.write("usage: %s %s [start-server options]\n\n%s\n\nThe options of %s start-server:\n"
                          % (os.path.basename(prog_name), subcommand, self.help, exe))
        self.stdout.write(out)

    def handle(self, *args, **options):
        from django.conf import settings
        exe = mod_wsgi.server.executable()
        argv = [exe, "start-server"] + settings_arguments(settings) + list(args)
        self.stdout.write("Successfully ran command.")
        self.stdout.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(exe, argv)
