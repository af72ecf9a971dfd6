import MeshlineModels
import Testing

@Suite struct DecodingErrorTests {
    @Test func unknownEnumValueIsATypedError() {
        // Export.kind (field 4, varint) = 99.
        #expect(throws: ProtoDecodingError.unknownEnumValue(message: "meshline.v1.Export", field: "kind", value: 99)) {
            try Export(serializedBytes: [0x20, 99])
        }
    }

    @Test func unknownEnumValueInsideANestedMessageNamesThePath() {
        // Export.owning_party (field 6) = Party { role (field 1) = 42 }.
        #expect(throws: ProtoDecodingError.unknownEnumValue(message: "meshline.v1.Export", field: "owning_party.role", value: 42)) {
            try Export(serializedBytes: [0x32, 0x02, 0x08, 42])
        }
    }

    @Test func missingRequiredFieldNamesThePath() {
        // Export.audit_trail (field 16) = [AuditEntry { override (field 8) = SignedOverride { signature = [0xAA] } }]:
        // the override has a signature but no change.
        let bytes: [UInt8] = [0x82, 0x01, 0x05, 0x42, 0x03, 0x12, 0x01, 0xAA]
        #expect(throws: ProtoDecodingError.missingRequiredField(message: "meshline.v1.Export", field: "audit_trail[0].override.change")) {
            try Export(serializedBytes: bytes)
        }
        #expect(throws: ProtoDecodingError.missingRequiredField(message: "meshline.v1.OverrideRequest", field: "override.change")) {
            try OverrideRequest(serializedBytes: [0x0A, 0x03, 0x12, 0x01, 0xAA])
        }
    }

    @Test func invalidUTF8IsATypedError() {
        // Export.export_id (field 1) = C3 28, an invalid two-byte sequence.
        #expect(throws: ProtoDecodingError.invalidUTF8(message: "meshline.v1.Export", field: "export_id")) {
            try Export(serializedBytes: [0x0A, 0x02, 0xC3, 0x28])
        }
        // Inside a repeated string: PackingInstruction.skus[1].
        let instruction: [UInt8] = [0x1A, 0x01, 0x41, 0x1A, 0x01, 0xFF]
        #expect(throws: ProtoDecodingError.invalidUTF8(message: "meshline.v1.Export", field: "packing_instructions[0].skus[1]")) {
            try Export(serializedBytes: [0x72, UInt8(instruction.count)] + instruction)
        }
    }

    @Test func malformedBytesAreATypedError() {
        // A length that runs past the end.
        #expect(throws: ProtoDecodingError.malformed(message: "meshline.v1.Export")) {
            try Export(serializedBytes: [0x0A, 0x05, 0x61])
        }
        // Wire type 7 does not exist.
        #expect(throws: ProtoDecodingError.malformed(message: "meshline.v1.Export")) {
            try Export(serializedBytes: [0x0F])
        }
    }

    @Test func errorsTellTheCallerWhatToFix() {
        let error = ProtoDecodingError.missingRequiredField(message: "meshline.v1.OverrideRequest", field: "override.change")
        #expect(error.description == "meshline.v1.OverrideRequest.override.change is required but missing; set it")
    }

    @Test func everyTruncationOfAValidMessageFailsCleanlyOrDecodes() {
        let bytes = InteropSamples.fullExport.serializedBytes()
        var malformed = 0
        for length in 0..<bytes.count {
            do {
                _ = try Export(serializedBytes: bytes[..<length])
            } catch {
                malformed += 1
            }
        }
        // Cutting inside a field is always detected; only cuts at field boundaries decode.
        #expect(malformed > bytes.count / 2)
    }
}

@Suite struct EmbeddedNULTests {
    @Test func aStringWithANULIsRefusedNotCut() {
        // Export.export_id = "a\0b": protobuf-c would hand back "a".
        #expect(throws: ProtoDecodingError.nulInString(message: "meshline.v1.Export", field: "export_id")) {
            try Export(serializedBytes: [0x0A, 0x03, 0x61, 0x00, 0x62])
        }
        // Nested and repeated: packing_instructions[0].skus[0] = "\0".
        #expect(throws: ProtoDecodingError.nulInString(message: "meshline.v1.Export", field: "packing_instructions[0].skus[0]")) {
            try Export(serializedBytes: [0x72, 0x03, 0x1A, 0x01, 0x00])
        }
    }
}
