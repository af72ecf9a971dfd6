/// What an export asks its consumer to do, parsed from its text form `VERB` or
/// `VERB:ARGUMENT` (e.g. `route-to-warehouse:WH-A`, `backorder`).
public struct IntendedAction: Hashable, Sendable {
    /// The verbs the contract knows.
    public enum Verb: String, CaseIterable, Sendable {
        /// Route to the warehouse named by the argument.
        case routeToWarehouse = "route-to-warehouse"
        /// Wait for stock; no argument.
        case backorder
        /// Pack with the instructions attached; the argument names the warehouse, if any.
        case pack
        /// Book the carrier named by the argument.
        case bookCarrier = "book-carrier"
        /// Hold the order for a human; no argument. Holding cannot fail.
        case hold

        /// Whether the verb needs an argument (`true`), forbids one (`false`), or allows either (nil).
        var argumentRequired: Bool? {
            switch self {
            case .routeToWarehouse, .bookCarrier: true
            case .backorder, .hold: false
            case .pack: nil
            }
        }
    }

    /// The verb.
    public var verb: Verb
    /// The argument after `:`, if any.
    public var argument: String?

    /// Longest argument allowed.
    public static let maximumArgumentLength = 128

    public init(verb: Verb, argument: String? = nil) {
        self.verb = verb
        self.argument = argument
    }

    /// Parses `VERB` or `VERB:ARGUMENT`; the error says what is wrong and what would be right.
    public init(parsing text: String) throws(IntendedActionParseError) {
        guard !text.isEmpty else { throw .empty }
        let verbText: Substring
        let argument: String?
        if let colon = text.firstIndex(of: ":") {
            verbText = text[..<colon]
            argument = String(text[text.index(after: colon)...])
        } else {
            verbText = text[...]
            argument = nil
        }
        guard let verb = Verb(rawValue: String(verbText)) else {
            throw .unknownVerb(String(verbText))
        }
        switch (verb.argumentRequired, argument) {
        case (true, nil), (true, ""?):
            throw .missingArgument(verb: verb.rawValue)
        case (false, _?):
            throw .unexpectedArgument(verb: verb.rawValue)
        case (nil, ""?):
            throw .missingArgument(verb: verb.rawValue)
        default:
            break
        }
        if let argument {
            guard argument.unicodeScalars.count <= Self.maximumArgumentLength else {
                throw .argumentTooLong(length: argument.unicodeScalars.count)
            }
            guard argument.utf8.allSatisfy(Identifier.isByteAllowed) else {
                throw .invalidArgument(argument)
            }
        }
        self.init(verb: verb, argument: argument)
    }

    /// The text form.
    public var text: String {
        argument.map { "\(verb.rawValue):\($0)" } ?? verb.rawValue
    }

    /// Whether the action can fail and so needs an exception path.
    public var canFail: Bool {
        verb != .hold
    }

    /// The export kind this action belongs to.
    public var expectedKind: ExportKind {
        switch verb {
        case .routeToWarehouse, .hold: .routing
        case .backorder: .backorder
        case .pack: .packing
        case .bookCarrier: .shipping
        }
    }
}

/// Why an intended action's text could not be parsed.
public enum IntendedActionParseError: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case unknownVerb(String)
    case missingArgument(verb: String)
    case unexpectedArgument(verb: String)
    case argumentTooLong(length: Int)
    case invalidArgument(String)

    public var description: String {
        let verbs = IntendedAction.Verb.allCases.map(\.rawValue).joined(separator: ", ")
        return switch self {
        case .empty:
            "the intended action is empty; use VERB or VERB:ARGUMENT, e.g. route-to-warehouse:WH-A"
        case .unknownVerb(let verb):
            "'\(verb)' is not a known action; use one of \(verbs)"
        case .missingArgument(let verb):
            "'\(verb)' needs an argument after ':', e.g. \(verb):WH-A"
        case .unexpectedArgument(let verb):
            "'\(verb)' takes no argument; remove the ':' and what follows"
        case .argumentTooLong(let length):
            "the action's argument has \(length) characters; use at most \(IntendedAction.maximumArgumentLength)"
        case .invalidArgument(let argument):
            "the action's argument '\(argument)' may hold only letters, digits, '-', '_', '.' and ':'"
        }
    }
}

/// The character rules of identifiers (`*_id` fields, action arguments).
public enum Identifier {
    /// Longest identifier allowed.
    public static let maximumLength = 128

    static func isCharacterAllowed(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        return isByteAllowed(ascii)
    }

    static func isByteAllowed(_ ascii: UInt8) -> Bool {
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
            UInt8(ascii: "."), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }

    /// Nil when `value` is a valid identifier, else what is wrong with it.
    public static func problem(with value: String) -> String? {
        if value.isEmpty { return "is empty; set it" }
        // The fast path reads bytes; the slow one only runs to describe a problem.
        if value.utf8.count <= maximumLength, value.utf8.allSatisfy(isByteAllowed) { return nil }
        let length = value.unicodeScalars.count
        if length > maximumLength { return "has \(length) characters; use at most \(maximumLength)" }
        if let bad = value.first(where: { !isCharacterAllowed($0) }) {
            return "contains '\(bad)'; use only ASCII letters, digits, '-', '_', '.' and ':'"
        }
        return nil
    }
}
