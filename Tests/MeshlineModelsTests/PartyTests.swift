import MeshlineModels
import Testing

@Suite struct PartyTests {
    @Test(arguments: [
        ("agency:fulfillment-team", PartyRole.agency, "fulfillment-team"),
        ("merchant:acme-ops", .merchant, "acme-ops"),
        ("3pl:wh-a.east_1", .thirdPartyLogistics, "wh-a.east_1"),
    ])
    func parsesAndPrints(text: String, role: PartyRole, name: String) throws {
        let party = try Party(parsing: text)
        #expect(party == Party(role: role, name: name))
        #expect(party.text == text)
    }

    @Test(arguments: [
        ("", PartyParseError.empty),
        ("fulfillment-team", .missingSeparator(text: "fulfillment-team")),
        ("warehouse:wh-a", .unknownRole(role: "warehouse")),
        ("Agency:team", .unknownRole(role: "Agency")),
        ("agency:", .emptyName),
        ("agency:Fulfillment", .invalidCharacter(name: "Fulfillment", character: "F")),
        ("agency:team:two", .invalidCharacter(name: "team:two", character: ":")),
        ("agency:caf\u{E9}", .invalidCharacter(name: "caf\u{E9}", character: "\u{E9}")),
        ("agency:" + String(repeating: "a", count: 65), .nameTooLong(length: 65)),
    ])
    func rejectsWithAnErrorThatSaysWhatIsWrong(text: String, expected: PartyParseError) {
        #expect(throws: expected) { try Party(parsing: text) }
    }

    @Test func errorMessagesNameTheFix() {
        #expect(PartyParseError.unknownRole(role: "wh").description == "'wh' is not a party role; use agency, merchant or 3pl")
        #expect(PartyParseError.missingSeparator(text: "ops").description.contains("ROLE:NAME"))
    }

    @Test func intendedActionsParse() throws {
        #expect(try IntendedAction(parsing: "route-to-warehouse:WH-A") == IntendedAction(verb: .routeToWarehouse, argument: "WH-A"))
        #expect(try IntendedAction(parsing: "backorder").verb == .backorder)
        #expect(throws: IntendedActionParseError.missingArgument(verb: "route-to-warehouse")) {
            try IntendedAction(parsing: "route-to-warehouse")
        }
        #expect(throws: IntendedActionParseError.unexpectedArgument(verb: "backorder")) {
            try IntendedAction(parsing: "backorder:WH-A")
        }
        #expect(throws: IntendedActionParseError.unknownVerb("teleport")) {
            try IntendedAction(parsing: "teleport:WH-A")
        }
    }
}
