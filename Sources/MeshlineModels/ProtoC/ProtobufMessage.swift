/// A message of the Meshline contract that converts to and from its protobuf encoding.
///
/// Every top-level message in `proto/` conforms through generated code. Encoding and
/// decoding go through protobuf-c; no C type is visible to callers.
public protocol ProtobufMessage: Sendable, Hashable {
    /// Decodes the message from its protobuf encoding.
    ///
    /// Throws ``ProtoDecodingError`` for bytes that are not an encoding of this message,
    /// an enum value the contract does not define, a string that is not UTF-8, or a
    /// required field that is missing. Never crashes on any input.
    init(serializedBytes bytes: some Sequence<UInt8>) throws(ProtoDecodingError)

    /// The message's protobuf encoding: fields in field-number order, defaults omitted.
    /// The same value always gives the same bytes.
    func serializedBytes() -> [UInt8]
}

/// Why bytes could not be decoded into a message.
///
/// `field` is a path from the top-level message, e.g. `audit_trail[2].override.change`.
public enum ProtoDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes are not a valid protobuf encoding of `message` (truncated, a wrong
    /// wire type, a length past the end, ...).
    case malformed(message: String)
    /// An enum field holds a number the contract does not define.
    case unknownEnumValue(message: String, field: String, value: Int32)
    /// A field the contract marks as required is absent.
    case missingRequiredField(message: String, field: String)
    /// A string field holds bytes that are not valid UTF-8.
    case invalidUTF8(message: String, field: String)
    /// A string field holds a NUL character, which Meshline strings may not contain.
    case nulInString(message: String, field: String)

    /// The path of the offending field, when one is known.
    public var fieldPath: String? {
        switch self {
        case .malformed: nil
        case .unknownEnumValue(_, let field, _), .missingRequiredField(_, let field), .invalidUTF8(_, let field), .nulInString(_, let field): field
        }
    }

    public var description: String {
        switch self {
        case .malformed(let message):
            "the bytes are not a valid protobuf encoding of \(message); check that the sender uses the same message type and sends whole messages"
        case .unknownEnumValue(let message, let field, let value):
            "\(message).\(field) holds \(value), which is not a value of its enum in this version of the contract; upgrade the receiver or send a defined value"
        case .missingRequiredField(let message, let field):
            "\(message).\(field) is required but missing; set it"
        case .invalidUTF8(let message, let field):
            "\(message).\(field) is not valid UTF-8; strings must be UTF-8 (use a bytes field for binary data)"
        case .nulInString(let message, let field):
            "\(message).\(field) contains a NUL character, which Meshline strings may not hold; remove it"
        }
    }

    /// The same error seen from a parent message, whose field `component` holds the child.
    func nested(in component: String, of parent: String) -> ProtoDecodingError {
        switch self {
        case .malformed:
            .malformed(message: parent)
        case .unknownEnumValue(_, let field, let value):
            .unknownEnumValue(message: parent, field: "\(component).\(field)", value: value)
        case .missingRequiredField(_, let field):
            .missingRequiredField(message: parent, field: "\(component).\(field)")
        case .invalidUTF8(_, let field):
            .invalidUTF8(message: parent, field: "\(component).\(field)")
        case .nulInString(_, let field):
            .nulInString(message: parent, field: "\(component).\(field)")
        }
    }
}
