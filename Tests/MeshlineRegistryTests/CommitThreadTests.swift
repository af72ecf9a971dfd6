import Foundation
import MeshlineStorage
import Synchronization
import Testing

/// The group commit both SQLite stores rely on: what queues during a commit goes
/// into the next batch, in order, and stopping commits what is queued first.
@Suite struct CommitThreadTests {
    final class Recorder: Sendable {
        let batches = Mutex<[[Int]]>([])
        let firstBatchStarted = DispatchSemaphore(value: 0)
        let releaseFirstBatch = DispatchSemaphore(value: 0)
    }

    @Test func workQueuedDuringACommitGoesIntoTheNextBatchInOrder() async throws {
        let recorder = Recorder()
        let thread = CommitThread<Int>(name: "test-writer") { batch in
            let first = recorder.batches.withLock { batches in
                batches.append(batch)
                return batches.count == 1
            }
            if first {
                recorder.firstBatchStarted.signal()
                recorder.releaseFirstBatch.wait()
            }
        }
        #expect(thread.enqueue(0))
        recorder.firstBatchStarted.wait()
        for work in 1...10 { #expect(thread.enqueue(work)) }
        recorder.releaseFirstBatch.signal()
        await thread.stop()
        #expect(recorder.batches.withLock { $0 } == [[0], Array(1...10)])
    }

    @Test func stoppingCommitsWhatIsQueuedAndRefusesMore() async throws {
        let recorder = Recorder()
        let thread = CommitThread<Int>(name: "test-writer") { batch in
            recorder.batches.withLock { $0.append(batch) }
            Thread.sleep(forTimeInterval: 0.01)
        }
        for work in 0..<100 { #expect(thread.enqueue(work)) }
        await thread.stop()
        #expect(recorder.batches.withLock { $0.flatMap { $0 } } == Array(0..<100))
        #expect(!thread.enqueue(100))
        #expect(recorder.batches.withLock { $0.flatMap { $0 } }.count == 100)
    }
}
