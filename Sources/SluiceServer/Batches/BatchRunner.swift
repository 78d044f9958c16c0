import Foundation
import Logging
import SluiceCore
import SluiceStore
import Synchronization

/// Runs batches on this node: takes active batches no node holds (at most `batches.batchesPerNode` at
/// once) under a lease it renews, so that each batch runs on one node and a dead node's batches are
/// taken by another once their leases lapse. Each batch keeps `batches.concurrency` lines in flight as
/// batch-class jobs of its owner; the queue serves interactive work first, and the fair queue takes
/// turns between the owners of different batches. Every line's result is stored as it ends, so a batch
/// resumes where it stopped; its jobs have fixed ids, so a line already submitted is waited for, never
/// sent twice.
final class BatchRunner: Sendable {
    let store: any BatchStore
    let pipeline: RequestPipeline
    var jobs: JobService { pipeline.jobs }
    let embeddings: EmbeddingsRoutes
    let settings: BatchSettings
    /// Who holds a batch: the cluster's node id, or this process's.
    let node: String
    let leaseSeconds: Double
    let logger: Logger
    let nudge = Nudge()
    /// The batches this node works on now, as last saved (the status API shows them).
    let working = Mutex<[String: BatchRecord]>([:])

    init(store: any BatchStore, pipeline: RequestPipeline, embeddings: EmbeddingsRoutes, logger: Logger) {
        self.store = store
        self.pipeline = pipeline
        let jobs = pipeline.jobs
        self.embeddings = embeddings
        settings = jobs.configuration.batches
        node = jobs.membership?.nodeID ?? "node-" + RandomID.make("", words: 1)
        leaseSeconds = jobs.configuration.cluster.leaseSeconds
        self.logger = logger
    }

    /// The batches this node works on now, as last saved.
    var running: [BatchRecord] { working.withLock { Array($0.values) } }

    /// Looks for batches to run now rather than within the second.
    func wake() { nudge.wake() }

    /// Stores a batch file and a batch of it for `owner` (Sluice's own work: a schedule's); a file
    /// with bad lines is refused whole, as an upload is.
    func submit(_ content: Data, filename: String, owner: Principal, endpoint: String, refresh: Bool = false, now: Date = Date()) async throws -> BatchRecord {
        if let refusal = BatchInput(content, maxLines: settings.maxLines).refusal { throw refusal }
        let file = StoredFile(
            id: RandomID.make("file-", words: 2), owner: owner, purpose: "batch", filename: filename, bytes: content.count, createdAt: now,
            expiresAt: now.addingTimeInterval(settings.fileRetentionDays * 86_400))
        try await store.addFile(file, content: content)
        var batch = BatchRecord(
            id: RandomID.make("batch_", words: 2), owner: owner, endpoint: endpoint, inputFileID: file.id, completionWindow: "24h", metadata: nil,
            createdAt: now, expiresAt: now.addingTimeInterval(86_400))
        batch.refresh = refresh ? true : nil
        try await store.saveBatch(batch)
        wake()
        return batch
    }

    /// Takes and runs batches until the node shuts down; expired files are deleted every ten minutes.
    func run() async {
        var lastSweep = Date.distantPast
        if jobs.membership == nil {
            // The embedded store has one node: what it held before a crash is its own to resume now.
            do { try await store.releaseAllBatches() } catch { logger.warning("could not release the batches of the last run", metadata: ["error": "\(error)"]) }
        }
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let room = settings.batchesPerNode - working.withLock { $0.count }
                if room > 0 {
                    do {
                        for batch in try await store.claimBatches(node: node, limit: room, leaseSeconds: leaseSeconds) {
                            // Taken back after renewals failed for a lease (the store was away): the work on it
                            // here goes on, under the new lease.
                            let isNew = working.withLock { working in
                                guard working[batch.id] == nil else { return false }
                                working[batch.id] = batch
                                return true
                            }
                            if isNew { group.addTask { await self.work(batch) } }
                        }
                    } catch where !Task.isCancelled {
                        logger.warning("could not look for batches to run", metadata: ["error": "\(error)"])
                    } catch {
                        break
                    }
                }
                if Date().timeIntervalSince(lastSweep) > 600 {
                    lastSweep = Date()
                    _ = try? await store.deleteExpiredFiles(now: Date())
                }
                await nudge.wait(seconds: 1)
            }
        }
    }

    /// Runs one batch this node claimed, until it ends, its lease is lost, or the node shuts down (then
    /// its lease is given back, so that it resumes at once elsewhere or after the restart).
    func work(_ claimed: BatchRecord) async {
        let control = BatchControl()
        let processing = Task {
            var batch = claimed
            do {
                try await self.process(&batch, control: control)
            } catch where !(error is CancellationError) {
                self.logger.error(
                    "a batch stopped on an error; it resumes when its lease lapses", metadata: ["sluice.batch": "\(batch.id)", "error": "\(error)"])
            } catch {}
            return batch
        }
        // A lost lease stops the lines in flight (their waits end on cancellation) as the node's shutdown does.
        let keeper = Task { await keepLease(claimed.id, control: control, processing: processing) }
        let batch = await withTaskCancellationHandler { await processing.value } onCancel: { processing.cancel() }
        keeper.cancel()
        working.withLock { $0[batch.id] = nil }
        if batch.status.isActive, !control.leaseLost {
            // Not in this (maybe cancelled) task: the release must happen.
            let (store, id, node) = (store, batch.id, node)
            await Task { try? await store.releaseBatch(id: id, node: node) }.value
        }
    }

    /// Renews the lease and watches for a cancel request, until cancelled.
    func keepLease(_ id: String, control: BatchControl, processing: Task<BatchRecord, Never>) async {
        var lastRenewal = Date()
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            if Date().timeIntervalSince(lastRenewal) >= leaseSeconds / 3 {
                do {
                    if try await !store.renewBatch(id: id, node: node, leaseSeconds: leaseSeconds) {
                        logger.warning("another node took over a batch", metadata: ["sluice.batch": "\(id)"])
                        control.stop(leaseLost: true)
                        processing.cancel()
                        return
                    }
                    lastRenewal = Date()
                } catch {
                    logger.warning("could not renew a batch's lease", metadata: ["sluice.batch": "\(id)", "error": "\(error)"])
                }
            }
            if let batch = try? await store.batch(id: id), batch.status == .cancelling { control.cancel(with: pipeline, owner: batch.owner) }
        }
    }

    /// Takes a batch from where it stands to its end.
    func process(_ batch: inout BatchRecord, control: BatchControl) async throws {
        guard let content = try await store.fileContent(id: batch.inputFileID) else {
            return try await fail(&batch, BatchRecord.LineError(code: "input_file_missing", message: "the input file was deleted", line: nil))
        }
        let input = BatchInput(content, maxLines: settings.maxLines)
        if batch.status == .validating {
            if let problem = input.problems.first {
                return try await fail(&batch, BatchRecord.LineError(code: "invalid_request", message: problem.message, line: problem.line))
            }
            if let other = input.lines.first(where: { $0.url != batch.endpoint }) {
                return try await fail(&batch, BatchRecord.LineError(
                    code: "invalid_url", message: "the line's url \(other.url) is not the batch's endpoint \(batch.endpoint)", line: other.index + 1))
            }
            batch.total = input.lines.count
            batch.status = .in_progress
            batch.inProgressAt = Date()
            try await save(batch)
        }
        var results = Dictionary(try await store.batchResults(batchID: batch.id).map { ($0.line, $0) }, uniquingKeysWith: { $1 })
        if batch.status == .in_progress {
            try await runLines(input.lines.filter { results[$0.index] == nil }, of: &batch, results: &results, control: control)
            if control.leaseLost || Task.isCancelled { return }
        }
        if batch.status == .in_progress || batch.status == .cancelling {
            // What never ran ends in the error file, with why.
            let cancelled = control.cancelled || batch.status == .cancelling
            let code = cancelled ? "batch_cancelled" : "batch_expired"
            let message = cancelled
                ? "The batch was cancelled before this request ran."
                : "This request could not be executed before the completion window expired."
            let missing = input.lines.filter { results[$0.index] == nil }.map {
                BatchLine.result($0, status: nil, requestID: nil, body: nil, error: ["code": code, "message": message])
            }
            try await store.addBatchResults(batchID: batch.id, missing)
            for result in missing { results[result.line] = result }
            batch.status = .finalizing
            batch.finalizingAt = Date()
            batch.cancelledAt = cancelled ? Date() : nil
            batch.expiredAt = cancelled || missing.isEmpty ? nil : Date()
            try await save(batch)
        }
        if batch.status == .finalizing { try await finalize(&batch, results: results.values.sorted { $0.line < $1.line }) }
    }

    /// Keeps `batches.concurrency` lines in flight until every line has a result, the batch is
    /// cancelled or its window ends, or the node lets go.
    func runLines(
        _ lines: [BatchInput.Line], of batch: inout BatchRecord, results: inout [Int: BatchLineResult], control: BatchControl
    ) async throws {
        let window = settings.lines(workers: jobs.configuration.queue.workers)
        var pending = lines.makeIterator()
        let snapshot = batch
        var lastSave = Date()
        try await withThrowingTaskGroup(of: BatchLineResult?.self) { group in
            var inFlight = 0
            func fill() {
                while inFlight < window, !control.stopped, Date() < snapshot.expiresAt, let line = pending.next() {
                    group.addTask { try await BatchLine(runner: self, batch: snapshot, control: control).run(line) }
                    inFlight += 1
                }
            }
            fill()
            while let finished = try await group.next() {
                inFlight -= 1
                if let result = finished { results[result.line] = result }
                if Date().timeIntervalSince(lastSave) > 0.5 || inFlight == 0 {
                    Self.count(&batch, results)
                    try await save(batch)
                    lastSave = Date()
                }
                fill()
            }
        }
        Self.count(&batch, results)
        if control.cancelled { batch.status = .cancelling }
    }

    static func count(_ batch: inout BatchRecord, _ results: [Int: BatchLineResult]) {
        batch.completed = results.values.filter(\.ok).count
        batch.failed = results.count - batch.completed
    }

    /// Writes the output and error files and ends the batch.
    func finalize(_ batch: inout BatchRecord, results: [BatchLineResult]) async throws {
        var counted = batch
        Self.count(&counted, Dictionary(results.map { ($0.line, $0) }, uniquingKeysWith: { $1 }))
        batch.completed = counted.completed
        batch.failed = counted.failed
        batch.outputFileID = try await write(results.filter(\.ok), of: batch, kind: "output")
        batch.errorFileID = try await write(results.filter { !$0.ok }, of: batch, kind: "error")
        if batch.cancelledAt != nil {
            batch.status = .cancelled
        } else if batch.expiredAt != nil {
            batch.status = .expired
        } else {
            batch.status = .completed
            batch.completedAt = Date()
        }
        try await save(batch)
        try await store.deleteBatchResults(batchID: batch.id)
        logger.notice("a batch ended", metadata: [
            "sluice.batch": "\(batch.id)", "sluice.status": "\(batch.status.rawValue)", "sluice.completed": "\(batch.completed)",
            "sluice.failed": "\(batch.failed)",
        ])
    }

    /// One of a batch's files (ids fixed by the batch, so that finalizing again replaces rather than adds);
    /// nil when it would be empty.
    func write(_ results: [BatchLineResult], of batch: BatchRecord, kind: String) async throws -> String? {
        guard !results.isEmpty else { return nil }
        var content = Data()
        for result in results {
            content.append(result.data)
            content.append(UInt8(ascii: "\n"))
        }
        let id = "file-" + BatchLine.hex(batch.id + ":" + kind, length: 32)
        let now = Date()
        let file = StoredFile(
            id: id, owner: batch.owner, purpose: "batch_output", filename: "\(batch.id)_\(kind).jsonl", bytes: content.count, createdAt: now,
            expiresAt: now.addingTimeInterval(settings.fileRetentionDays * 86_400))
        _ = try await store.deleteFile(id: id)
        try await store.addFile(file, content: content)
        return id
    }

    func fail(_ batch: inout BatchRecord, _ error: BatchRecord.LineError) async throws {
        batch.status = .failed
        batch.failedAt = Date()
        batch.errors = [error]
        try await save(batch)
    }

    func save(_ batch: BatchRecord) async throws {
        try await store.saveBatch(batch)
        working.withLock { if $0[batch.id] != nil { $0[batch.id] = batch } }
    }
}

/// What the lease keeper tells a batch's lines: stop (the lease was lost, or the batch cancelled).
final class BatchControl: Sendable {
    private let state = Mutex<(cancelled: Bool, leaseLost: Bool, jobs: [String: Principal])>((false, false, [:]))

    var cancelled: Bool { state.withLock { $0.cancelled } }
    var leaseLost: Bool { state.withLock { $0.leaseLost } }
    var stopped: Bool { state.withLock { $0.cancelled || $0.leaseLost } }

    func stop(leaseLost: Bool) { state.withLock { $0.leaseLost = $0.leaseLost || leaseLost } }

    /// The batch was cancelled: no more lines start, and the jobs of the lines in flight are cancelled.
    func cancel(with pipeline: RequestPipeline, owner: Principal) {
        let running = state.withLock { state -> [String: Principal] in
            guard !state.cancelled else { return [:] }
            state.cancelled = true
            return state.jobs
        }
        for (id, owner) in running { Task { _ = try? await pipeline.cancel(id, for: owner) } }
    }

    /// A line's job is in flight (false: the batch was cancelled meanwhile, and the job is cancelled now).
    func started(_ job: String, owner: Principal) -> Bool {
        state.withLock { state in
            state.jobs[job] = owner
            return !state.cancelled
        }
    }

    func ended(_ job: String) { state.withLock { _ = $0.jobs.removeValue(forKey: job) } }
}
