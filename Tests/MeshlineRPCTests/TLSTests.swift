import Foundation
import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// TLS with ALPN h2, with our client and with grpcio.
@Suite(.serialized) struct TLSTests {
    /// A self-signed certificate for localhost and 127.0.0.1, made with openssl.
    static func makeCertificate(in directory: URL) throws -> (certificate: String, key: String) {
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "openssl could not make a test certificate")
        return (certificate, key)
    }

    @Test func meshlineClientAndGrpcioClientOverTLS() async throws {
        let work = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let (certificate, key) = try Self.makeCertificate(in: work)
        try await withServer(configure: {
            $0.tls = TLSSettings(certificateChainFile: certificate, privateKeyFile: key)
        }) { _, port in
            try await withClient(port: port, configure: {
                $0.tls = TLSSettings(trustRootsFile: certificate, serverName: "localhost")
            }) { client in
                let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: "secret"))
                #expect(response.text == "secret")
                let stream = try await client.serverStreaming(EchoDescriptor.expand, EchoRequest(responseCount: 10), as: EchoResponse.self)
                var count = 0
                for try await _ in stream { count += 1 }
                #expect(count == 10)
            }

            let (status, output) = try await Scripts.runPython(["Tests/Interop/rpc_interop.py", "tls-client", String(port), certificate, work.path])
            #expect(status == 0, "\(output)")

            // A client that does not trust the certificate fails cleanly.
            try await withClient(port: port, configure: { $0.tls = TLSSettings(serverName: "localhost") }) { client in
                await #expect {
                    let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(), timeout: .seconds(5))
                } throws: { ($0 as? RPCError)?.code == .unavailable }
            }
            // So does a cleartext client.
            try await withClient(port: port) { client in
                await #expect {
                    let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(), timeout: .seconds(5))
                } throws: { ($0 as? RPCError) != nil }
            }
        }
    }
}
