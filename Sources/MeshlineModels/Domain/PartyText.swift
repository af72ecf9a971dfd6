/// Why a party's text form (`ROLE:NAME`) could not be parsed.
public enum PartyParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text is empty.
    case empty
    /// There is no `:` between role and name.
    case missingSeparator(text: String)
    /// The role is not one of `agency`, `merchant`, `3pl`.
    case unknownRole(role: String)
    /// Nothing follows the `:`.
    case emptyName
    /// The name is longer than ``Party/maximumNameLength``.
    case nameTooLong(length: Int)
    /// The name holds a character outside `a-z 0-9 - _ .`.
    case invalidCharacter(name: String, character: Character)

    public var description: String {
        switch self {
        case .empty:
            "a party is empty; write it as ROLE:NAME, e.g. agency:fulfillment-team"
        case .missingSeparator(let text):
            "'\(text)' has no ':' between role and name; write it as ROLE:NAME, e.g. agency:\(text)"
        case .unknownRole(let role):
            "'\(role)' is not a party role; use agency, merchant or 3pl"
        case .emptyName:
            "the party's name after ':' is empty; name the team or system, e.g. agency:fulfillment-team"
        case .nameTooLong(let length):
            "the party's name has \(length) characters; use at most \(Party.maximumNameLength)"
        case .invalidCharacter(let name, let character):
            "the party name '\(name)' contains '\(character)'; use lower-case letters, digits, '-', '_' and '.'"
        }
    }
}

extension PartyRole {
    /// The role's text form: `agency`, `merchant` or `3pl`; nil for `.unspecified`.
    public var text: String? {
        switch self {
        case .agency: "agency"
        case .merchant: "merchant"
        case .thirdPartyLogistics: "3pl"
        case .unspecified: nil
        }
    }

    /// The role whose text form is `text`, or nil.
    public init?(text: String) {
        switch text {
        case "agency": self = .agency
        case "merchant": self = .merchant
        case "3pl": self = .thirdPartyLogistics
        default: return nil
        }
    }
}

extension Party {
    /// Longest name a party may have.
    public static let maximumNameLength = 64

    /// Parses the text form `ROLE:NAME`, e.g. `agency:fulfillment-team`.
    public init(parsing text: String) throws(PartyParseError) {
        guard !text.isEmpty else { throw .empty }
        guard let colon = text.firstIndex(of: ":") else { throw .missingSeparator(text: text) }
        let roleText = String(text[..<colon])
        let name = String(text[text.index(after: colon)...])
        guard let role = PartyRole(text: roleText) else { throw .unknownRole(role: roleText) }
        try Party.checkName(name)
        self.init(role: role, name: name)
    }

    /// The text form `ROLE:NAME`; an unspecified role prints as `unspecified`.
    public var text: String {
        "\(role.text ?? "unspecified"):\(name)"
    }

    /// Checks a party name against the contract's rules.
    public static func checkName(_ name: String) throws(PartyParseError) {
        guard !name.isEmpty else { throw .emptyName }
        if name.utf8.count <= maximumNameLength, name.utf8.allSatisfy(isNameByte) { return }
        let length = name.unicodeScalars.count
        guard length <= maximumNameLength else { throw .nameTooLong(length: length) }
        if let bad = name.first(where: { !isNameCharacter($0) }) {
            throw .invalidCharacter(name: name, character: bad)
        }
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        guard character.isASCII, let ascii = character.asciiValue else { return false }
        return isNameByte(ascii)
    }

    private static func isNameByte(_ ascii: UInt8) -> Bool {
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}
