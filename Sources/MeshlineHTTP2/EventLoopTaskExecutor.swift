import NIOCore

/// Runs tasks on one NIO event loop.
///
/// Handlers start in a task that prefers the executor of their connection's event
/// loop, so a handler that does not hop elsewhere runs on the thread that reads
/// and writes its connection: no thread switch between the socket and the handler.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `loop` is itself Sendable and immutable here; TaskExecutor requires a class.
    let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
