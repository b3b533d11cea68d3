// mod_wsgi-express: a drop-in for mod_wsgi-express 4.9's command-line tool. Everything lives
// in ExpressKit; this file only hands it the command line.
import ExpressKit

Express.run(arguments: Array(CommandLine.arguments.dropFirst()))
