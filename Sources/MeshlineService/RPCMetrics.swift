import Metrics
public import MeshlineRPC
import Synchronization

/// RPC counts by method and status code, and latency per method, through swift-metrics
/// (`meshline_rpc_calls_total{method,code}`, `meshline_rpc_duration_seconds{method}`).
public struct RPCMetrics: CallObserver {
    public init() {}

    public func observer(forMethod path: String) -> any MethodObserver {
        MethodInstruments(method: path)
    }
}

/// One method's instruments, made when the server starts. The OK counter exists from
/// the start, so a successful call takes no lock; other codes get theirs on first use
/// (a method that never fails shows no zero series for every code).
private final class MethodInstruments: MethodObserver {
    private let method: String
    private let succeeded: Counter
    private let others = Mutex<[Counter?]>(Array(repeating: nil, count: StatusCode.allCases.count))
    private let duration: Timer

    init(method: String) {
        self.method = method
        succeeded = Counter(label: "meshline_rpc_calls_total", dimensions: [("method", method), ("code", StatusCode.ok.description)])
        duration = Timer(label: "meshline_rpc_duration_seconds", dimensions: [("method", method)])
    }

    func callFinished(code: StatusCode, seconds: Double) {
        duration.recordNanoseconds(Int64(seconds * 1e9))
        guard code != .ok else {
            succeeded.increment()
            return
        }
        let counter = others.withLock { others in
            let index = Int(code.rawValue)
            if let counter = others[index] { return counter }
            let made = Counter(label: "meshline_rpc_calls_total", dimensions: [("method", method), ("code", code.description)])
            others[index] = made
            return made
        }
        counter.increment()
    }
}
