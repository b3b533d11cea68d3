import CModWSGI

@_cdecl("wsgi_swift_directive")
func wsgi_swift_directive(_ cmd: UnsafeMutablePointer<cmd_parms>?, _ mconfig: UnsafeMutableRawPointer?, _ id: Int32, _ argc: Int32, _ argv: UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> UnsafePointer<CChar>? { nil }
@_cdecl("wsgi_swift_create_server_config")
func wsgi_swift_create_server_config(_ p: OpaquePointer?, _ s: UnsafeMutablePointer<server_rec>?) -> UnsafeMutableRawPointer? { wsgi_pcalloc(p, 8) }
@_cdecl("wsgi_swift_merge_server_config")
func wsgi_swift_merge_server_config(_ p: OpaquePointer?, _ base: UnsafeMutableRawPointer?, _ add: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? { add }
@_cdecl("wsgi_swift_create_dir_config")
func wsgi_swift_create_dir_config(_ p: OpaquePointer?, _ dir: UnsafeMutablePointer<CChar>?) -> UnsafeMutableRawPointer? { wsgi_pcalloc(p, 8) }
@_cdecl("wsgi_swift_merge_dir_config")
func wsgi_swift_merge_dir_config(_ p: OpaquePointer?, _ base: UnsafeMutableRawPointer?, _ add: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? { add }
@_cdecl("wsgi_swift_pre_config")
func wsgi_swift_pre_config(_ a: OpaquePointer?, _ b: OpaquePointer?, _ c: OpaquePointer?) -> Int32 { OK }
@_cdecl("wsgi_swift_post_config")
func wsgi_swift_post_config(_ a: OpaquePointer?, _ b: OpaquePointer?, _ c: OpaquePointer?, _ s: UnsafeMutablePointer<server_rec>?) -> Int32 { OK }
@_cdecl("wsgi_swift_child_init")
func wsgi_swift_child_init(_ p: OpaquePointer?, _ s: UnsafeMutablePointer<server_rec>?) {
    Py_Initialize()
    let none = wsgi_py_none()
    _ = none
}
@_cdecl("wsgi_swift_translate_name")
func wsgi_swift_translate_name(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 { DECLINED }
@_cdecl("wsgi_swift_handler")
func wsgi_swift_handler(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 { DECLINED }
