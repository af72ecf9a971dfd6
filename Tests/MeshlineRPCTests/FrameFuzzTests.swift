@_spi(Fuzzing) import MeshlineHTTP2
import Testing

/// A bounded share of `scripts/fuzz h2` on every test run: mutated client
/// conversations fed to a server connection never crash it, and the unmutated
/// ones are answered (so the fuzzer reaches the serving path, not only refusals).
@Suite struct FrameFuzzTests {
    @Test func mutatedConversationsNeverCrashTheServerSide() {
        let fuzzer = ServerFrameFuzzer()
        let seeds = ServerFrameFuzzer.seeds()
        #expect(seeds.count == 5 && seeds.allSatisfy { $0.starts(with: Array("PRI * HTTP/2.0".utf8)) })
        for (index, conversation) in seeds.enumerated() {
            // The first three complete calls (a response of 100+ bytes); the reset and GOAWAY ones get frames only.
            #expect(fuzzer.feed([conversation]) > (index < 3 ? 100 : 0), "seed \(index) got too little answer")
        }
        var state: UInt64 = 7
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for index in 0..<5_000 {
            var bytes = seeds[index % seeds.count]
            for _ in 0..<(1 + next() % 4) where !bytes.isEmpty {
                let position = next() % bytes.count
                switch next() % 3 {
                case 0: bytes[position] ^= UInt8(1 << (next() % 8))
                case 1: bytes.removeSubrange(position...)
                default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: position)
                }
            }
            let split = bytes.isEmpty ? 0 : next() % bytes.count
            _ = fuzzer.feed([Array(bytes[..<split]), Array(bytes[split...])])
        }
    }
}
