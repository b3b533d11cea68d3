/// A directive's arguments were wrong: the message names the directive and what it takes.
package struct DirectiveError: Error {
    package let message: String
    package init(message: String) { self.message = message }
}
