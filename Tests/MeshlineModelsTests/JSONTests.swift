import Foundation
import MeshlineModels
import MeshlineTestSupport
import Testing

/// The JSON form of contract messages: what `meshline export publish --file` reads
/// and `--json` prints, checked against schema/ and Python protobuf's json_format.
@Suite struct JSONTests {
    static let exportWithOrder: Export = {
        var export = InteropSamples.fullExport
        export.order = Order(
            orderID: "order-1", tenantID: "acme", merchantID: "north", placedAtUnixMs: 1_764_400_000_000, serviceLevel: "standard",
            shipTo: Address(name: InteropSamples.nonASCII, lines: ["1 Main St", "Unit \"4\"\n"], city: "Springfield", region: "IL", postalCode: "62701", country: "US"),
            zone: "us-central", lines: [OrderLine(sku: "SKU-1", quantity: 2, unitPriceMinor: 1999)], promotions: ["spring-catalog"], currency: "USD")
        return export
    }()

    static let exports: [(String, Export)] = [
        ("full", InteropSamples.fullExport), ("with-order", exportWithOrder), ("empty-lists", InteropSamples.emptyLists), ("defaults", Export()),
    ]

    @Test func printedJSONReadsBackToTheSameValue() throws {
        for (name, export) in Self.exports {
            let text = export.protoJSON.text()
            let parsed = try Export(jsonText: Data(text.utf8), root: "export")
            #expect(parsed == export, "\(name) changed on its way through JSON")
        }
    }

    @Test func printedJSONMatchesTheSchemaAndProtobufsReading() async throws {
        let work = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        for (name, export) in Self.exports {
            try Data(export.protoJSON.text().utf8).write(to: work.appendingPathComponent("\(name).json"))
            try Data(export.serializedBytes()).write(to: work.appendingPathComponent("\(name).bin"))
        }
        let outcome = try await Scripts.runPython(["Tests/Interop/json_interop.py", work.path, "schema/export.schema.json", "meshline.v1.Export"])
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.contains("4 documents, 0 problems"))
    }

    @Test func fieldsAreNamedAsInTheProtoAndDefaultsLeftOut() throws {
        let export = Export(exportID: "exp-1", kind: .routing, version: 3, sla: Sla(shipByUnixMs: 1_764_400_000_000), lines: [ExportLine(sku: "A", quantity: 1)])
        #expect(export.protoJSON.text(pretty: false)
            == #"{"export_id":"exp-1","kind":"EXPORT_KIND_ROUTING","version":3,"sla":{"ship_by_unix_ms":1764400000000},"lines":[{"sku":"A","quantity":1}]}"#)
    }

    @Test func protobufJSONSpellingsAreAcceptedToo() throws {
        let text = #"{"exportId":"exp-1","version":"7","kind":2,"auditTrail":[{"entryHash":"AAEC"}]}"#
        let export = try Export(jsonText: Data(text.utf8), root: "export")
        #expect(export.exportID == "exp-1" && export.version == 7 && export.kind == .backorder && export.auditTrail.first?.entryHash == [0, 1, 2])
    }

    @Test(arguments: [
        (#"{"export_id": 5}"#, "export.export_id: expected a string, got a number"),
        (#"{"exportid": "x"}"#, "export.exportid: is not a field here"),
        (#"{"kind": "ROUTING"}"#, "export.kind: 'ROUTING' is not one of EXPORT_KIND_UNSPECIFIED, EXPORT_KIND_ROUTING"),
        (#"{"version": 1.5}"#, "export.version: expected an integer"),
        (#"{"version": true}"#, "export.version: expected an integer"),
        (#"{"sla": {"pick_window": {"start_unix_ms": "soon"}}}"#, "export.sla.pick_window.start_unix_ms: expected an integer"),
        (#"{"lines": [{"sku": "A"}, {"quantity": []}]}"#, "export.lines[1].quantity: expected an integer"),
        (#"{"audit_trail": [{"entry_hash": "not base64!"}]}"#, "export.audit_trail[0].entry_hash: expected base64 text"),
        (#"["not an object"]"#, "export: expected an object, got an array"),
        (#"{"export_id": "x""#, "export: the text is not valid JSON"),
    ])
    func badJSONNamesTheFieldToFix(text: String, expected: String) {
        #expect {
            _ = try Export(jsonText: Data(text.utf8), root: "export")
        } throws: { error in
            "\(error)".hasPrefix(expected) || "\(error)".contains(expected)
        }
    }
}
