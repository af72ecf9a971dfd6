import Synchronization

/// Wakes waiters when something was stored: Notifications streams waiting for
/// events, the scheduler waiting for an earlier timer. A waiter reads
/// ``generation`` before it looks at storage and waits for a later one, so no
/// wake-up between the two is lost; a timeout bounds the wait, which also lets a
/// replica see what another replica stored.
final class ChangeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiter = 0
        /// Waits that have neither been woken nor cancelled.
        var live: Set<Int> = []
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    var generation: UInt64 { state.withLock { $0.generation } }

    func fire() {
        let waiters = state.withLock { state in
            state.generation &+= 1
            defer {
                state.live.subtract(state.waiters.keys)
                state.waiters.removeAll()
            }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the generation moved past `seen`, after `timeout`, or when cancelled.
    func wait(since seen: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForChange(since: seen) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForChange(since seen: UInt64) async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            state.live.insert(state.nextWaiter)
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    // Not live: cancelled before this ran.
                    if state.generation != seen || !state.live.contains(id) {
                        state.live.remove(id)
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.live.remove(id)
                return state.waiters.removeValue(forKey: id)
            }
            waiter?.resume()
        }
    }
}
