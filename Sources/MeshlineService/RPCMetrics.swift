import Metrics
public import MeshlineRPC
import Synchronization

/// RPC counts by method and status code, and latency per method, through swift-metrics
/// (`meshline_rpc_calls_total{method,code}`, `meshline_rpc_duration_seconds{method}`).
public final class RPCMetrics: CallObserver {
    /// One method's instruments: its timer, and a counter per status code made on first use.
    private final class MethodInstruments: @unchecked Sendable {
        // Guarded by the owning RPCMetrics' mutex.
        var calls: [Counter?] = Array(repeating: nil, count: StatusCode.allCases.count)
        let duration: Timer

        init(method: String) {
            duration = Timer(label: "meshline_rpc_duration_seconds", dimensions: [("method", method)])
        }
    }

    private let methods = Mutex<[String: MethodInstruments]>([:])

    public init() {}

    public func callFinished(method: String, code: StatusCode, seconds: Double) {
        // Keyed by the method alone and indexed by code: no key is built per call.
        let (counter, timer) = methods.withLock { methods in
            let instruments = methods[method] ?? {
                let made = MethodInstruments(method: method)
                methods[method] = made
                return made
            }()
            let index = Int(code.rawValue)
            let counter = instruments.calls[index] ?? {
                let made = Counter(label: "meshline_rpc_calls_total", dimensions: [("method", method), ("code", code.description)])
                instruments.calls[index] = made
                return made
            }()
            return (counter, instruments.duration)
        }
        counter.increment()
        timer.recordNanoseconds(Int64(seconds * 1e9))
    }
}
