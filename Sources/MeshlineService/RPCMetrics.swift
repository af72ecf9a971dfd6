import Metrics
public import MeshlineRPC
import Synchronization

/// RPC counts by method and status code, and latency per method, through swift-metrics
/// (`meshline_rpc_calls_total{method,code}`, `meshline_rpc_duration_seconds{method}`).
public final class RPCMetrics: CallObserver {
    private struct Instruments {
        var calls: [String: Counter] = [:]
        var durations: [String: Timer] = [:]
    }

    private let instruments = Mutex(Instruments())

    public init() {}

    public func callFinished(method: String, code: StatusCode, seconds: Double) {
        let (counter, timer) = instruments.withLock { instruments in
            let key = method + "|" + code.description
            let counter = instruments.calls[key] ?? {
                let made = Counter(label: "meshline_rpc_calls_total", dimensions: [("method", method), ("code", code.description)])
                instruments.calls[key] = made
                return made
            }()
            let timer = instruments.durations[method] ?? {
                let made = Timer(label: "meshline_rpc_duration_seconds", dimensions: [("method", method)])
                instruments.durations[method] = made
                return made
            }()
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(Int64(seconds * 1e9))
    }
}
