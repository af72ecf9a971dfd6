import CNghttp2
import CProtobufC
import Testing

/// The system-library modules link and behave as the versions we build against.
@Suite struct CModulesTests {
    @Test func nghttp2IsAtLeastDebian12sVersion() throws {
        let info = try #require(nghttp2_version(0))
        #expect(info.pointee.version_num >= 0x01_34_00, "nghttp2 \(String(cString: info.pointee.version_str)) is older than 1.52")
    }

    @Test func nghttp2ClientSessionWritesTheConnectionPreface() throws {
        var callbacks: OpaquePointer?
        #expect(nghttp2_session_callbacks_new(&callbacks) == 0)
        defer { nghttp2_session_callbacks_del(callbacks) }
        var session: OpaquePointer?
        #expect(nghttp2_session_client_new(&session, callbacks, nil) == 0)
        defer { nghttp2_session_del(session) }
        #expect(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil, 0) == 0)

        var written: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            #expect(count >= 0)
            guard count > 0, let data else { break }
            written += UnsafeBufferPointer(start: data, count: count)
        }
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        #expect(written.starts(with: preface))
        // Then an empty SETTINGS frame: length 0, type 4, no flags, stream 0.
        #expect(Array(written.dropFirst(preface.count)) == [0, 0, 0, 4, 0, 0, 0, 0, 0])
    }

    @Test func protobufCIsAtLeastTheGeneratorsVersion() {
        // The committed protoc-c output needs libprotobuf-c 1.3 or later.
        #expect(protobuf_c_version_number() >= 1_003_000)
    }
}
