import Foundation
import Synchronization

/// The one thread that commits a store's writes (group commit): work queued while a
/// batch commits goes into the next batch, so that under load one fsync covers many
/// writes.
///
/// A thread of its own rather than an async loop: the loop would wait for the
/// cooperative pool (and GRDB's queue) between batches, and on a busy machine those
/// waits were time the single writer could not spare. This thread goes from one
/// batch straight to the next and sleeps only when nothing is queued.
public final class CommitThread<Work: Sendable>: Sendable {
    private final class Shared: Sendable {
        struct State {
            var queued: [Work] = []
            var sleeping = false
            var stopping = false
            var stopped = false
            /// Callers of ``CommitThread/stop()`` waiting for the thread to end.
            var waiting: [CheckedContinuation<Void, Never>] = []
        }

        let state = Mutex(State())
        let wake = DispatchSemaphore(value: 0)

        /// Asks the thread to finish what is queued and end.
        func stop() {
            let sleeping = state.withLock { state in
                state.stopping = true
                defer { state.sleeping = false }
                return state.sleeping
            }
            if sleeping { wake.signal() }
        }
    }

    private let shared = Shared()

    /// Starts the thread (`name`: at most 15 bytes, Linux's limit for thread names, as
    /// profilers and `top -H` show them); `commit` runs on it with each batch, in the
    /// order the work was queued.
    public init(name: String, commit: @escaping @Sendable ([Work]) -> Void) {
        let thread = Thread { [shared] in
            // Foundation does not pass a Thread's name on to the system thread on Linux;
            // a thread may rename itself through its comm file.
            try? name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            while true {
                let (batch, waiting) = shared.state.withLock { state -> ([Work], [CheckedContinuation<Void, Never>]?) in
                    if state.queued.isEmpty {
                        state.sleeping = !state.stopping
                        guard state.stopping else { return ([], nil) }
                        state.stopped = true
                        defer { state.waiting = [] }
                        return ([], state.waiting)
                    }
                    defer { state.queued.removeAll(keepingCapacity: true) }
                    return (state.queued, nil)
                }
                if !batch.isEmpty {
                    commit(batch)
                } else if let waiting {
                    for caller in waiting { caller.resume() }
                    return
                } else {
                    shared.wake.wait()
                }
            }
        }
        thread.start()
    }

    deinit {
        shared.stop()
    }

    /// Queues `work` for the next batch; false once ``stop()`` was called (nothing queued).
    public func enqueue(_ work: Work) -> Bool {
        let wakeUp = shared.state.withLock { state -> Bool? in
            if state.stopping { return nil }
            state.queued.append(work)
            defer { state.sleeping = false }
            return state.sleeping
        }
        guard let wakeUp else { return false }
        if wakeUp { shared.wake.signal() }
        return true
    }

    /// Commits what is queued, then ends the thread; returns when it has ended.
    public func stop() async {
        await withCheckedContinuation { (caller: CheckedContinuation<Void, Never>) in
            let stopped = shared.state.withLock { state in
                if !state.stopped { state.waiting.append(caller) }
                return state.stopped
            }
            if stopped { caller.resume() }
            shared.stop()
        }
    }
}
