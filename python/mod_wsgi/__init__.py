# The `mod_wsgi` package (as in mod_wsgi 4.9: a namespace other distributions may extend).
# Inside Apache the module adds its C-level API to this package (mod_wsgi.version,
# process_group, subscribe_events ...), so `import mod_wsgi.server` works in a served app too.
from pkgutil import extend_path
__path__ = extend_path(__path__, __name__)
