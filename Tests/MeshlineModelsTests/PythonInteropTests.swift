import Foundation
import MeshlineModels
import MeshlineTestSupport
import Testing

/// Byte compatibility with the reference protobuf implementation (Python's
/// `protobuf`), in both directions, on the samples of InteropSamples.swift.
@Suite struct PythonInteropTests {
    @Test func swiftAndPythonAgreeOnEveryByte() async throws {
        let work = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let swiftDir = work.appendingPathComponent("swift")
        try FileManager.default.createDirectory(at: swiftDir, withIntermediateDirectories: true)
        let samples = InteropSamples.all
        for sample in samples {
            try Data(sample.bytes).write(to: swiftDir.appendingPathComponent("\(sample.name).bin"))
        }

        // Python decodes Swift's bytes and compares field by field, then writes its own.
        let outcome = try await Scripts.runPython(["Tests/Interop/proto_interop.py", work.path])
        #expect(outcome.status == 0, "Python disagrees:\n\(outcome.output)")

        for sample in samples {
            let pythonBytes = [UInt8](try Data(contentsOf: work.appendingPathComponent("python/\(sample.name).bin")))
            #expect(try sample.decodesEqual(pythonBytes), "Swift decodes Python's \(sample.name) to a different value")
            #expect(pythonBytes == sample.bytes, "\(sample.name): Python's and Swift's encodings differ")
        }

        let pythonSigningBytes = [UInt8](try Data(contentsOf: work.appendingPathComponent("python/override.signing.bin")))
        #expect(InteropSamples.overrideChange.signingBytes == pythonSigningBytes)
    }
}
