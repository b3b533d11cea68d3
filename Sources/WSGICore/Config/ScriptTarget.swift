/// A script with the options mod_wsgi allows on WSGIScriptAlias, WSGIHandlerScript and
/// WSGIImportScript: process-group=, application-group=, callable-object=, pass-authorization=.
package struct ScriptTarget: Codable {
    package var path: String
    package var processGroup: String?
    package var applicationGroup: String?
    package var callableObject: String?
    package var passAuthorization: Bool?

    package init(
        path: String, processGroup: String? = nil, applicationGroup: String? = nil, callableObject: String? = nil,
        passAuthorization: Bool? = nil
    ) {
        self.path = path
        self.processGroup = processGroup
        self.applicationGroup = applicationGroup
        self.callableObject = callableObject
        self.passAuthorization = passAuthorization
    }
}
