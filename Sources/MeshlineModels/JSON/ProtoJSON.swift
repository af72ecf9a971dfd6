public import Foundation

/// A contract value with a JSON form: messages as objects keyed by the .proto field
/// names, enums by their value names, 64-bit integers as numbers, bytes as base64.
///
/// Reading also accepts what proto3's JSON mapping produces elsewhere (lowerCamelCase
/// field names, integers as strings, enum numbers), so output of stock protobuf
/// libraries can be fed in. `schema/` holds the matching JSON Schema.
public protocol ProtoJSONValue {
    /// Reads the value; `path` names it in errors, e.g. `export.sla.ship_by_unix_ms`.
    init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError)
    /// The value's JSON form.
    var protoJSON: JSONValue { get }
    /// Whether the value is its proto3 default (left out when printing).
    var isProtoDefault: Bool { get }
}

/// A message of the contract; every message conforms through generated code.
public protocol ProtoJSONMessage: ProtoJSONValue {
    init(protoJSON object: ProtoJSONReader) throws(ProtoJSONError)
    func protoJSON(into object: inout ProtoJSONWriter)
}

/// An enum of the contract; every enum conforms through generated code.
public protocol ProtoJSONEnum: ProtoJSONValue, RawRepresentable<Int32>, CaseIterable {
    var protoName: String { get }
    init?(protoName name: String)
}

/// Why JSON does not describe a contract value, with the path of the offending field.
public struct ProtoJSONError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

extension ProtoJSONMessage {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        try self.init(protoJSON: ProtoJSONReader(value, path: path))
    }

    /// Parses JSON text; `root` names the document in errors (e.g. `export`).
    public init(jsonText data: Data, root: String) throws(ProtoJSONError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: data)
        } catch {
            throw ProtoJSONError(path: root, reason: error.description)
        }
        try self.init(protoJSON: value, path: root)
    }

    public var protoJSON: JSONValue {
        var writer = ProtoJSONWriter()
        protoJSON(into: &writer)
        return .object(writer.members)
    }

    public var isProtoDefault: Bool { false }
}

extension ProtoJSONEnum {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        switch value {
        case .string(let name):
            guard let known = Self(protoName: name) else {
                throw ProtoJSONError(path: path, reason: "'\(name)' is not one of \(Self.allCases.map(\.protoName).joined(separator: ", "))")
            }
            self = known
        case .integer(let number):
            guard let known = Int32(exactly: number).flatMap(Self.init(rawValue:)) else {
                throw ProtoJSONError(path: path, reason: "\(number) is not a value of this enum; use one of \(Self.allCases.map(\.protoName).joined(separator: ", "))")
            }
            self = known
        default:
            throw ProtoJSONError(path: path, reason: "expected an enum value name such as '\(Array(Self.allCases).last?.protoName ?? "")', got \(value.kindName)")
        }
    }

    public var protoJSON: JSONValue { .string(protoName) }
    public var isProtoDefault: Bool { rawValue == 0 }
}

/// Reads the fields of one JSON object as a message.
public struct ProtoJSONReader {
    let members: [JSONMember]
    let path: String

    init(_ value: JSONValue, path: String) throws(ProtoJSONError) {
        guard case .object(let members) = value else {
            throw ProtoJSONError(path: path, reason: "expected an object, got \(value.kindName)")
        }
        self.members = members
        self.path = path
    }

    /// Refuses members that are not fields of the message: a typo must not be dropped silently.
    /// `fields` lists each field's .proto name and JSON name.
    public func checkFields(_ fields: [(String, String)]) throws(ProtoJSONError) {
        for member in members where !fields.contains(where: { $0.0 == member.key || $0.1 == member.key }) {
            throw ProtoJSONError(path: "\(path).\(member.key)", reason: "is not a field here; the fields are \(fields.map(\.0).joined(separator: ", "))")
        }
    }

    private func member(_ name: String, _ jsonName: String) -> JSONValue? {
        guard let found = members.first(where: { $0.key == name || $0.key == jsonName })?.value, found != .null else { return nil }
        return found
    }

    /// The field's value, or nil when absent or null.
    public func value<Value: ProtoJSONValue>(_ name: String, _ jsonName: String) throws(ProtoJSONError) -> Value? {
        try member(name, jsonName).map { value throws(ProtoJSONError) in try Value(protoJSON: value, path: "\(path).\(name)") }
    }

    /// A field the contract marks as required.
    public func required<Value: ProtoJSONValue>(_ name: String, _ jsonName: String) throws(ProtoJSONError) -> Value {
        guard let value: Value = try value(name, jsonName) else {
            throw ProtoJSONError(path: "\(path).\(name)", reason: "is required; set it")
        }
        return value
    }

    /// A bytes field, base64 in JSON.
    public func bytes(_ name: String, _ jsonName: String) throws(ProtoJSONError) -> [UInt8]? {
        guard let value = member(name, jsonName) else { return nil }
        guard case .string(let text) = value,
              let data = Data(base64Encoded: text) ?? Data(base64Encoded: Self.standardBase64(text)) else {
            throw ProtoJSONError(path: "\(path).\(name)", reason: "expected base64 text, got \(value.kindName)")
        }
        return Array(data)
    }

    /// URL-safe and unpadded base64, which proto3's JSON mapping also accepts, in standard form.
    private static func standardBase64(_ text: String) -> String {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return standard
    }
}

/// Collects the fields of a message as a JSON object, leaving out defaults.
public struct ProtoJSONWriter {
    public private(set) var members: [JSONMember] = []

    public mutating func write<Value: ProtoJSONValue>(_ name: String, _ value: Value) {
        if !value.isProtoDefault { members.append(JSONMember(name, value.protoJSON)) }
    }

    public mutating func write<Value: ProtoJSONValue>(_ name: String, _ value: Value?) {
        if let value { members.append(JSONMember(name, value.protoJSON)) }
    }

    public mutating func writeBytes(_ name: String, _ value: [UInt8]) {
        if !value.isEmpty { members.append(JSONMember(name, .string(Data(value).base64EncodedString()))) }
    }
}

extension JSONValue {
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

// MARK: Scalars

extension Array: ProtoJSONValue where Element: ProtoJSONValue {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        guard case .array(let values) = value else {
            throw ProtoJSONError(path: path, reason: "expected an array, got \(value.kindName)")
        }
        var elements: [Element] = []
        elements.reserveCapacity(values.count)
        for (index, element) in values.enumerated() {
            elements.append(try Element(protoJSON: element, path: "\(path)[\(index)]"))
        }
        self = elements
    }

    public var protoJSON: JSONValue { .array(map(\.protoJSON)) }
    public var isProtoDefault: Bool { isEmpty }
}

extension String: ProtoJSONValue {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        guard case .string(let text) = value else { throw ProtoJSONError(path: path, reason: "expected a string, got \(value.kindName)") }
        self = text
    }

    public var protoJSON: JSONValue { .string(self) }
    public var isProtoDefault: Bool { isEmpty }
}

extension Bool: ProtoJSONValue {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        guard case .bool(let flag) = value else { throw ProtoJSONError(path: path, reason: "expected true or false, got \(value.kindName)") }
        self = flag
    }

    public var protoJSON: JSONValue { .bool(self) }
    public var isProtoDefault: Bool { !self }
}

/// Integers read from a JSON number or a decimal string; anything out of range is refused.
protocol ProtoJSONInteger: ProtoJSONValue, FixedWidthInteger {}

extension ProtoJSONInteger {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        let parsed: Self?
        switch value {
        case .integer(let number): parsed = Self(exactly: number)
        case .number(let number): parsed = Self(exactly: number)
        case .string(let text): parsed = Self(text)
        default: parsed = nil
        }
        guard let parsed else {
            throw ProtoJSONError(path: path, reason: "expected an integer from \(Self.min) to \(Self.max), got \(value.kindName == "a string" || value.kindName == "a number" ? "\(value.text(pretty: false))" : value.kindName)")
        }
        self = parsed
    }

    public var protoJSON: JSONValue {
        Int64(exactly: self).map(JSONValue.integer) ?? .string(String(self))
    }

    public var isProtoDefault: Bool { self == 0 }
}

extension Int32: ProtoJSONInteger {}
extension Int64: ProtoJSONInteger {}
extension UInt32: ProtoJSONInteger {}
extension UInt64: ProtoJSONInteger {}

extension Double: ProtoJSONValue {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        switch value {
        case .integer(let number): self = Double(number)
        case .number(let number): self = number
        case .string("NaN"): self = .nan
        case .string("Infinity"): self = .infinity
        case .string("-Infinity"): self = -.infinity
        case .string(let text) where Double(text) != nil: self = Double(text)!
        default: throw ProtoJSONError(path: path, reason: "expected a number, got \(value.kindName)")
        }
    }

    public var protoJSON: JSONValue { .number(self) }
    public var isProtoDefault: Bool { self == 0 && sign == .plus }
}

extension Float: ProtoJSONValue {
    public init(protoJSON value: JSONValue, path: String) throws(ProtoJSONError) {
        self = Float(try Double(protoJSON: value, path: path))
    }

    public var protoJSON: JSONValue { .number(Double(self)) }
    public var isProtoDefault: Bool { self == 0 && sign == .plus }
}
