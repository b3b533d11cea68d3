from mod_wsgi.server import main

main()
