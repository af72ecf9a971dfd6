import MeshlineModels
import Testing

@Suite struct OverrideSigningTests {
    @Test func signingBytesArePrefixPlusDeterministicEncoding() {
        let change = InteropSamples.overrideChange
        let bytes = change.signingBytes
        #expect(bytes.starts(with: Array("meshline-override-v1\n".utf8)))
        #expect(Array(bytes.dropFirst(21)) == change.serializedBytes())
    }

    @Test func fieldsAppearInFieldNumberOrder() {
        // tenant_id (1), export_id (2), base_version (3), justification (12), nonce (15):
        // the tags must come out ascending whatever order they were set in.
        var change = OverrideChange()
        change.nonce = "n"
        change.justification = "j"
        change.baseVersion = 7
        change.exportID = "e"
        change.tenantID = "t"
        #expect(change.serializedBytes() == [0x0A, 0x01, 0x74, 0x12, 0x01, 0x65, 0x18, 0x07, 0x62, 0x01, 0x6A, 0x7A, 0x01, 0x6E])
    }

    @Test func anyChangedFieldChangesTheSignedBytes() {
        var tampered = InteropSamples.overrideChange
        tampered.baseVersion += 1
        #expect(tampered.signingBytes != InteropSamples.overrideChange.signingBytes)
    }
}
