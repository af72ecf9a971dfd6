// Load from MeshlineRPC's client, for bench/rpc/run.
//
//   meshline-bench-rpc-client --port P --stream N
//       one Echo/Expand call streaming N messages; prints `stream_messages_per_second X`
//   meshline-bench-rpc-client --port P --unary N [--concurrency C]
//       N Health/Check calls, C at a time; prints `unary_calls_per_second X`

import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
func option(_ name: String) -> Int? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return Int(arguments[index + 1])
}

guard let port = option("--port") else {
    print("usage: meshline-bench-rpc-client --port P (--stream N | --unary N [--concurrency C])")
    exit(2)
}
let client = try RPCClient(endpoints: ["127.0.0.1:\(port)"])
let clock = ContinuousClock()

func perSecond(_ count: Int, _ elapsed: Duration) -> Int {
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Int(Double(count) / seconds)
}

if let count = option("--stream") {
    // Warm the connection up first.
    let _: HealthCheckResponse = try await client.unary(HealthDescriptor.check, HealthCheckRequest())
    let start = clock.now
    let stream = try await client.serverStreaming(EchoDescriptor.expand, EchoRequest(text: "x", responseCount: Int32(count)), timeout: .seconds(600), as: EchoResponse.self)
    var received = 0
    for try await _ in stream { received += 1 }
    precondition(received == count, "received \(received) of \(count) messages")
    print("stream_messages_per_second \(perSecond(count, clock.now - start))")
}

if let count = option("--unary") {
    let concurrency = option("--concurrency") ?? 64
    let _: HealthCheckResponse = try await client.unary(HealthDescriptor.check, HealthCheckRequest())
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                for _ in stride(from: worker, to: count, by: concurrency) {
                    let _: HealthCheckResponse = try await client.unary(HealthDescriptor.check, HealthCheckRequest())
                }
            }
        }
        try await group.waitForAll()
    }
    print("unary_calls_per_second \(perSecond(count, clock.now - start))")
}
await client.close()
