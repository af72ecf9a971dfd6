import NIOCore

/// Keepalive for one connection, on either side: a connection that received
/// nothing for a whole interval gets a PING, and when no PING acknowledgement
/// arrives within the timeout it is given up.
///
/// Lives on its connection's event loop; the owner reports reads and PING
/// acknowledgements and stops it when the connection goes.
final class Keepalive {
    private let interval: TimeAmount
    private let timeout: TimeAmount
    private var ping: (() -> Void)?
    private var expired: (() -> Void)?
    private var timer: RepeatedTask?
    private var deadline: Scheduled<Void>?
    private var readSinceLastTick = true

    init(interval: Duration, timeout: Duration) {
        self.interval = TimeAmount(interval)
        self.timeout = TimeAmount(timeout)
    }

    /// Starts ticking on `loop`: `ping` sends a PING, `expired` ends the connection.
    func start(on loop: any EventLoop, ping: @escaping () -> Void, expired: @escaping () -> Void) {
        self.ping = ping
        self.expired = expired
        let bound = NIOLoopBound(self, eventLoop: loop)
        timer = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.tick(on: loop)
        }
    }

    /// Something arrived from the peer.
    func noteRead() {
        readSinceLastTick = true
    }

    /// The peer acknowledged a PING.
    func pingAcknowledged() {
        deadline?.cancel()
        deadline = nil
    }

    /// Stops the timers and drops the callbacks (and what they hold).
    func stop() {
        timer?.cancel()
        deadline?.cancel()
        ping = nil
        expired = nil
    }

    private func tick(on loop: any EventLoop) {
        guard deadline == nil, let ping else { return }
        if readSinceLastTick {
            readSinceLastTick = false
            return
        }
        ping()
        let bound = NIOLoopBound(self, eventLoop: loop)
        deadline = loop.scheduleTask(in: timeout) { bound.value.expired?() }
    }
}
