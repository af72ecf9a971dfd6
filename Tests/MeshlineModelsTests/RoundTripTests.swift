import MeshlineModels
import Testing

@Suite struct RoundTripTests {
    @Test(arguments: InteropSamples.all.map(\.name))
    func sampleRoundTripsLosslessly(name: String) throws {
        let sample = try #require(InteropSamples.all.first { $0.name == name })
        #expect(try sample.decodesEqual(sample.bytes))
    }

    @Test func encodingIsDeterministic() {
        let first = InteropSamples.fullExport.serializedBytes()
        for _ in 0..<10 {
            #expect(InteropSamples.fullExport.serializedBytes() == first)
        }
    }

    @Test func defaultsEncodeToNothingAndDecodeFromNothing() throws {
        #expect(Export().serializedBytes().isEmpty)
        #expect(try Export(serializedBytes: []) == Export())
        #expect(try HealthCheckRequest(serializedBytes: []) == HealthCheckRequest())
        // A request whose required field is absent does not decode, even from no bytes.
        #expect(throws: ProtoDecodingError.missingRequiredField(message: "meshline.v1.PublishRequest", field: "export")) {
            try PublishRequest(serializedBytes: [])
        }
    }

    @Test func decodesFromNonContiguousSequences() throws {
        let bytes = InteropSamples.fullExport.serializedBytes()
        // A lazy map is not contiguous storage: the decoder must copy and still succeed.
        #expect(try Export(serializedBytes: bytes.lazy.map { $0 }) == InteropSamples.fullExport)
        #expect(try Export(serializedBytes: bytes[...]) == InteropSamples.fullExport)
    }

    @Test func extremeIntegersSurvive() throws {
        let line = ExportLine(sku: "SKU", quantity: .min)
        let window = PickWindow(startUnixMs: .min, endUnixMs: .max)
        #expect(try ExportLine(serializedBytes: line.serializedBytes()) == line)
        #expect(try PickWindow(serializedBytes: window.serializedBytes()) == window)
        // A negative int64 is a ten-byte varint on the wire.
        #expect(ExportLine(quantity: -1).serializedBytes() == [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    @Test func everyEnumValueRoundTrips() throws {
        for state in ExportState.allCases {
            let export = Export(state: state)
            #expect(try Export(serializedBytes: export.serializedBytes()).state == state)
            #expect(ExportState(protoName: state.protoName) == state)
        }
        for status in HealthCheckResponse.ServingStatus.allCases {
            let response = HealthCheckResponse(status: status)
            #expect(try HealthCheckResponse(serializedBytes: response.serializedBytes()) == response)
        }
    }

    @Test func knownWireBytes() {
        // Field 1 (string, wire type 2) "a", field 4 (enum, varint) 1: bytes a reader can check by hand.
        let export = Export(exportID: "a", kind: .routing)
        #expect(export.serializedBytes() == [0x0A, 0x01, 0x61, 0x20, 0x01])
        #expect(HealthCheckRequest(service: "x").serializedBytes() == [0x0A, 0x01, 0x78])
    }
}
