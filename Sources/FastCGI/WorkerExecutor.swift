import Foundation

/// A task executor that runs jobs on the one worker thread that owns it.
///
/// `blockingAwait` starts a task that prefers this executor and then runs the executor's
/// jobs on the calling thread until the task finishes, so an async handler costs about a
/// microsecond instead of a hop to the cooperative pool and back.
///
/// `@unchecked Sendable`: `jobs` and `isFinished` are only touched while holding `condition`;
/// jobs are run only by the owning worker thread, inside `run(until:)`.
final class WorkerExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var isFinished = false

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    /// Runs the result of `operation` to completion on the calling thread.
    @available(*, noasync, message: "blockingAwait blocks its thread; call it only from a worker thread")
    func blockingAwait<T: Sendable>(_ operation: @escaping @Sendable () async -> T) -> T {
        let box = ResultBox<T>()
        condition.lock()
        isFinished = false
        condition.unlock()
        Task(executorPreference: self) {
            let value = await operation()
            box.value = value
            self.finish()
        }
        runJobs()
        return box.value!
    }

    private func finish() {
        condition.lock()
        isFinished = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while jobs.isEmpty && !isFinished { condition.wait() }
            if jobs.isEmpty && isFinished {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }
}

/// Holds a task's result until the worker thread reads it.
///
/// `@unchecked Sendable`: written once by the task before `finish()` signals the condition,
/// read once by the worker after `runJobs()` returned; the condition's lock orders the two.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
