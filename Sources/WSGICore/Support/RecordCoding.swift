/// A compact binary form of any `Codable` value, for the start record the Apache module hands a
/// daemon process that runs the application's Python executable (Daemon/DaemonStart.swift).
/// Both ends are this package's code from the same build, so the form needs no versioning of
/// its own; being Codable, every field added to a carried type (a new WSGIDaemonProcess option,
/// a new Python setting) travels without anyone listing it here. Foundation-free.
///
/// The form is a tree: a tag byte, then for a keyed container its entries (key, value), for an
/// unkeyed one its elements, for a scalar its bytes; lengths and counts as little-endian u32.
package enum RecordCoding {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let root = Box()
        try value.encode(to: TreeEncoder(box: root, codingPath: []))
        var out: [UInt8] = []
        root.finish().write(to: &out)
        return out
    }

    package static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var at = 0
        let node = try Node.read(bytes, &at)
        guard at == bytes.count else { throw Failure(description: "trailing bytes in the record") }
        return try T(from: TreeDecoder(node: node, codingPath: []))
    }
}

// MARK: - The tree and its bytes

private indirect enum Node {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case keyed([(String, Node)])
    case unkeyed([Node])

    func write(to out: inout [UInt8]) {
        func u32(_ v: Int) { for i in 0..<4 { out.append(UInt8((v >> (8 * i)) & 0xff)) } }
        func u64(_ v: UInt64) { for i in 0..<8 { out.append(UInt8((v >> (8 * UInt64(i))) & 0xff)) } }
        func str(_ s: String) {
            u32(s.utf8.count)
            out.append(contentsOf: s.utf8)
        }
        switch self {
        case .null: out.append(0)
        case .bool(let b): out.append(contentsOf: [1, b ? 1 : 0])
        case .int(let v): out.append(2); u64(UInt64(bitPattern: v))
        case .uint(let v): out.append(3); u64(v)
        case .double(let v): out.append(4); u64(v.bitPattern)
        case .string(let s): out.append(5); str(s)
        case .keyed(let entries):
            out.append(6); u32(entries.count)
            for (k, v) in entries { str(k); v.write(to: &out) }
        case .unkeyed(let items):
            out.append(7); u32(items.count)
            for v in items { v.write(to: &out) }
        }
    }

    static func read(_ b: [UInt8], _ at: inout Int) throws -> Node {
        func need(_ n: Int) throws {
            guard n >= 0, at + n <= b.count else { throw RecordCoding.Failure(description: "the record is cut short") }
        }
        func u32() throws -> Int {
            try need(4)
            var v = 0
            for i in 0..<4 { v |= Int(b[at + i]) << (8 * i) }
            at += 4
            return v
        }
        func u64() throws -> UInt64 {
            try need(8)
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(b[at + i]) << (8 * UInt64(i)) }
            at += 8
            return v
        }
        func str() throws -> String {
            let n = try u32()
            try need(n)
            defer { at += n }
            return String(decoding: b[at..<(at + n)], as: UTF8.self)
        }
        try need(1)
        let tag = b[at]
        at += 1
        switch tag {
        case 0: return .null
        case 1:
            try need(1)
            at += 1
            return .bool(b[at - 1] != 0)
        case 2: return .int(Int64(bitPattern: try u64()))
        case 3: return .uint(try u64())
        case 4: return .double(Double(bitPattern: try u64()))
        case 5: return .string(try str())
        case 6:
            var entries: [(String, Node)] = []
            for _ in 0..<(try u32()) { entries.append((try str(), try read(b, &at))) }
            return .keyed(entries)
        case 7:
            var items: [Node] = []
            for _ in 0..<(try u32()) { items.append(try read(b, &at)) }
            return .unkeyed(items)
        default:
            throw RecordCoding.Failure(description: "unknown tag \(tag) in the record")
        }
    }
}

/// A node being encoded: a scalar, or a container whose children are boxes of their own.
private final class Box {
    var scalar: Node = .null
    var keyed: [(String, Box)]?
    var unkeyed: [Box]?

    func finish() -> Node {
        if let keyed { return .keyed(keyed.map { ($0.0, $0.1.finish()) }) }
        if let unkeyed { return .unkeyed(unkeyed.map { $0.finish() }) }
        return scalar
    }

    func child(_ key: String) -> Box {
        let b = Box()
        keyed!.append((key, b))
        return b
    }

    func element() -> Box {
        let b = Box()
        unkeyed!.append(b)
        return b
    }
}

// MARK: - Encoding

private struct TreeEncoder: Swift.Encoder {
    let box: Box
    var codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if box.keyed == nil { box.keyed = [] }
        return KeyedEncodingContainer(KeyedEncoder<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if box.unkeyed == nil { box.unkeyed = [] }
        return UnkeyedEncoder(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { ScalarEncoder(box: box, codingPath: codingPath) }
}

/// An integer as a node.
private func node(_ v: some BinaryInteger) -> Node {
    v < 0 ? .int(Int64(v)) : .uint(UInt64(v))
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: Box
    var codingPath: [CodingKey]

    private func put(_ n: Node, _ key: Key) { box.child(key.stringValue).scalar = n }

    mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
    mutating func encode(_ v: Bool, forKey key: Key) throws { put(.bool(v), key) }
    mutating func encode(_ v: String, forKey key: Key) throws { put(.string(v), key) }
    mutating func encode(_ v: Double, forKey key: Key) throws { put(.double(v), key) }
    mutating func encode(_ v: Float, forKey key: Key) throws { put(.double(Double(v)), key) }
    mutating func encode(_ v: Int, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: Int8, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: Int16, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: Int32, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: Int64, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: UInt, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: UInt8, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: UInt16, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: UInt32, forKey key: Key) throws { put(node(v), key) }
    mutating func encode(_ v: UInt64, forKey key: Key) throws { put(node(v), key) }
    mutating func encode<T: Encodable>(_ v: T, forKey key: Key) throws {
        try v.encode(to: TreeEncoder(box: box.child(key.stringValue), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        TreeEncoder(box: box.child(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        TreeEncoder(box: box.child(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> Swift.Encoder { TreeEncoder(box: box.child("super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> Swift.Encoder {
        TreeEncoder(box: box.child(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ i: Int) { stringValue = String(i); intValue = i }
    init?(stringValue: String) { self.stringValue = stringValue; intValue = Int(stringValue) }
    init?(intValue: Int) { self.init(intValue) }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let box: Box
    var codingPath: [CodingKey]
    var count: Int { box.unkeyed?.count ?? 0 }

    private func put(_ n: Node) { box.element().scalar = n }

    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ v: Bool) throws { put(.bool(v)) }
    mutating func encode(_ v: String) throws { put(.string(v)) }
    mutating func encode(_ v: Double) throws { put(.double(v)) }
    mutating func encode(_ v: Float) throws { put(.double(Double(v))) }
    mutating func encode(_ v: Int) throws { put(node(v)) }
    mutating func encode(_ v: Int8) throws { put(node(v)) }
    mutating func encode(_ v: Int16) throws { put(node(v)) }
    mutating func encode(_ v: Int32) throws { put(node(v)) }
    mutating func encode(_ v: Int64) throws { put(node(v)) }
    mutating func encode(_ v: UInt) throws { put(node(v)) }
    mutating func encode(_ v: UInt8) throws { put(node(v)) }
    mutating func encode(_ v: UInt16) throws { put(node(v)) }
    mutating func encode(_ v: UInt32) throws { put(node(v)) }
    mutating func encode(_ v: UInt64) throws { put(node(v)) }
    mutating func encode<T: Encodable>(_ v: T) throws {
        let key = IndexKey(count)
        try v.encode(to: TreeEncoder(box: box.element(), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        TreeEncoder(box: box.element(), codingPath: codingPath).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        TreeEncoder(box: box.element(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> Swift.Encoder { TreeEncoder(box: box.element(), codingPath: codingPath) }
}

private struct ScalarEncoder: SingleValueEncodingContainer {
    let box: Box
    var codingPath: [CodingKey]

    private func put(_ n: Node) { box.scalar = n }

    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ v: Bool) throws { put(.bool(v)) }
    mutating func encode(_ v: String) throws { put(.string(v)) }
    mutating func encode(_ v: Double) throws { put(.double(v)) }
    mutating func encode(_ v: Float) throws { put(.double(Double(v))) }
    mutating func encode(_ v: Int) throws { put(node(v)) }
    mutating func encode(_ v: Int8) throws { put(node(v)) }
    mutating func encode(_ v: Int16) throws { put(node(v)) }
    mutating func encode(_ v: Int32) throws { put(node(v)) }
    mutating func encode(_ v: Int64) throws { put(node(v)) }
    mutating func encode(_ v: UInt) throws { put(node(v)) }
    mutating func encode(_ v: UInt8) throws { put(node(v)) }
    mutating func encode(_ v: UInt16) throws { put(node(v)) }
    mutating func encode(_ v: UInt32) throws { put(node(v)) }
    mutating func encode(_ v: UInt64) throws { put(node(v)) }
    mutating func encode<T: Encodable>(_ v: T) throws {
        try v.encode(to: TreeEncoder(box: box, codingPath: codingPath))
    }
}

// MARK: - Decoding

private func mismatch(_ what: String, _ path: [CodingKey]) -> RecordCoding.Failure {
    RecordCoding.Failure(
        description: "the record has no \(what) at \(path.map { $0.stringValue }.joined(separator: "."))")
}

/// A node as a primitive of Codable.
private func scalar<T>(_ n: Node, _ path: [CodingKey], _ type: T.Type) throws -> T {
    switch n {
    case .bool(let b): if let v = b as? T { return v }
    case .string(let s): if let v = s as? T { return v }
    case .double(let d):
        if T.self == Double.self { return d as! T }
        if T.self == Float.self { return Float(d) as! T }
    case .int(let i): if let v = integer(i, T.self) { return v }
    case .uint(let u): if let v = integer(u, T.self) { return v }
    default: break
    }
    throw mismatch("\(T.self)", path)
}

private func integer<T, I: BinaryInteger>(_ i: I, _ type: T.Type) -> T? {
    switch type {
    case is Int.Type: return Int(exactly: i) as? T
    case is Int8.Type: return Int8(exactly: i) as? T
    case is Int16.Type: return Int16(exactly: i) as? T
    case is Int32.Type: return Int32(exactly: i) as? T
    case is Int64.Type: return Int64(exactly: i) as? T
    case is UInt.Type: return UInt(exactly: i) as? T
    case is UInt8.Type: return UInt8(exactly: i) as? T
    case is UInt16.Type: return UInt16(exactly: i) as? T
    case is UInt32.Type: return UInt32(exactly: i) as? T
    case is UInt64.Type: return UInt64(exactly: i) as? T
    default: return nil
    }
}

private struct TreeDecoder: Swift.Decoder {
    let node: Node
    var codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .keyed(let entries) = node else { throw mismatch("keyed container", codingPath) }
        return KeyedDecodingContainer(KeyedDecoder<Key>(entries: entries, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .unkeyed(let items) = node else { throw mismatch("list", codingPath) }
        return UnkeyedDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        ScalarDecoder(node: node, codingPath: codingPath)
    }
}

private struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [(String, Node)]
    var codingPath: [CodingKey]

    var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.0) } }
    func contains(_ key: Key) -> Bool { entries.contains { $0.0 == key.stringValue } }

    private func find(_ key: Key) throws -> Node {
        guard let n = entries.first(where: { $0.0 == key.stringValue })?.1 else {
            throw mismatch("'\(key.stringValue)'", codingPath)
        }
        return n
    }

    private func get<T>(_ key: Key, _ type: T.Type) throws -> T { try scalar(try find(key), codingPath + [key], type) }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try find(key) { return true }
        return false
    }
    func decode(_ t: Bool.Type, forKey key: Key) throws -> Bool { try get(key, t) }
    func decode(_ t: String.Type, forKey key: Key) throws -> String { try get(key, t) }
    func decode(_ t: Double.Type, forKey key: Key) throws -> Double { try get(key, t) }
    func decode(_ t: Float.Type, forKey key: Key) throws -> Float { try get(key, t) }
    func decode(_ t: Int.Type, forKey key: Key) throws -> Int { try get(key, t) }
    func decode(_ t: Int8.Type, forKey key: Key) throws -> Int8 { try get(key, t) }
    func decode(_ t: Int16.Type, forKey key: Key) throws -> Int16 { try get(key, t) }
    func decode(_ t: Int32.Type, forKey key: Key) throws -> Int32 { try get(key, t) }
    func decode(_ t: Int64.Type, forKey key: Key) throws -> Int64 { try get(key, t) }
    func decode(_ t: UInt.Type, forKey key: Key) throws -> UInt { try get(key, t) }
    func decode(_ t: UInt8.Type, forKey key: Key) throws -> UInt8 { try get(key, t) }
    func decode(_ t: UInt16.Type, forKey key: Key) throws -> UInt16 { try get(key, t) }
    func decode(_ t: UInt32.Type, forKey key: Key) throws -> UInt32 { try get(key, t) }
    func decode(_ t: UInt64.Type, forKey key: Key) throws -> UInt64 { try get(key, t) }
    func decode<T: Decodable>(_ t: T.Type, forKey key: Key) throws -> T {
        try T(from: TreeDecoder(node: try find(key), codingPath: codingPath + [key]))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try TreeDecoder(node: try find(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try TreeDecoder(node: try find(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> Swift.Decoder {
        guard let n = entries.first(where: { $0.0 == "super" })?.1 else { throw mismatch("'super'", codingPath) }
        return TreeDecoder(node: n, codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> Swift.Decoder {
        TreeDecoder(node: try find(key), codingPath: codingPath + [key])
    }
}

private struct UnkeyedDecoder: UnkeyedDecodingContainer {
    let items: [Node]
    var codingPath: [CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [Node], codingPath: [CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    private mutating func next() throws -> (Node, [CodingKey]) {
        guard !isAtEnd else { throw mismatch("element \(currentIndex)", codingPath) }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [IndexKey(currentIndex)])
    }

    private mutating func get<T>(_ type: T.Type) throws -> T {
        let (n, path) = try next()
        return try scalar(n, path, type)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw mismatch("element \(currentIndex)", codingPath) }
        if case .null = items[currentIndex] {
            currentIndex += 1
            return true
        }
        return false
    }
    mutating func decode(_ t: Bool.Type) throws -> Bool { try get(t) }
    mutating func decode(_ t: String.Type) throws -> String { try get(t) }
    mutating func decode(_ t: Double.Type) throws -> Double { try get(t) }
    mutating func decode(_ t: Float.Type) throws -> Float { try get(t) }
    mutating func decode(_ t: Int.Type) throws -> Int { try get(t) }
    mutating func decode(_ t: Int8.Type) throws -> Int8 { try get(t) }
    mutating func decode(_ t: Int16.Type) throws -> Int16 { try get(t) }
    mutating func decode(_ t: Int32.Type) throws -> Int32 { try get(t) }
    mutating func decode(_ t: Int64.Type) throws -> Int64 { try get(t) }
    mutating func decode(_ t: UInt.Type) throws -> UInt { try get(t) }
    mutating func decode(_ t: UInt8.Type) throws -> UInt8 { try get(t) }
    mutating func decode(_ t: UInt16.Type) throws -> UInt16 { try get(t) }
    mutating func decode(_ t: UInt32.Type) throws -> UInt32 { try get(t) }
    mutating func decode(_ t: UInt64.Type) throws -> UInt64 { try get(t) }
    mutating func decode<T: Decodable>(_ t: T.Type) throws -> T {
        let (n, path) = try next()
        return try T(from: TreeDecoder(node: n, codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let (n, path) = try next()
        return try TreeDecoder(node: n, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let (n, path) = try next()
        return try TreeDecoder(node: n, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Swift.Decoder {
        let (n, path) = try next()
        return TreeDecoder(node: n, codingPath: path)
    }
}

private struct ScalarDecoder: SingleValueDecodingContainer {
    let node: Node
    var codingPath: [CodingKey]

    private func get<T>(_ type: T.Type) throws -> T { try scalar(node, codingPath, type) }

    func decodeNil() -> Bool {
        if case .null = node { return true }
        return false
    }
    func decode(_ t: Bool.Type) throws -> Bool { try get(t) }
    func decode(_ t: String.Type) throws -> String { try get(t) }
    func decode(_ t: Double.Type) throws -> Double { try get(t) }
    func decode(_ t: Float.Type) throws -> Float { try get(t) }
    func decode(_ t: Int.Type) throws -> Int { try get(t) }
    func decode(_ t: Int8.Type) throws -> Int8 { try get(t) }
    func decode(_ t: Int16.Type) throws -> Int16 { try get(t) }
    func decode(_ t: Int32.Type) throws -> Int32 { try get(t) }
    func decode(_ t: Int64.Type) throws -> Int64 { try get(t) }
    func decode(_ t: UInt.Type) throws -> UInt { try get(t) }
    func decode(_ t: UInt8.Type) throws -> UInt8 { try get(t) }
    func decode(_ t: UInt16.Type) throws -> UInt16 { try get(t) }
    func decode(_ t: UInt32.Type) throws -> UInt32 { try get(t) }
    func decode(_ t: UInt64.Type) throws -> UInt64 { try get(t) }
    func decode<T: Decodable>(_ t: T.Type) throws -> T { try T(from: TreeDecoder(node: node, codingPath: codingPath)) }
}
