public import Foundation
public import SluiceCore

/// A file uploaded for the Batch API (`purpose: batch`), or one Sluice wrote (`batch_output`).
public struct StoredFile: Sendable, Codable, Hashable {
    /// `file-…`.
    public var id: String
    /// Whose it is.
    public var owner: Principal
    /// `batch` or `batch_output`.
    public var purpose: String
    public var filename: String
    /// Its size.
    public var bytes: Int
    public var createdAt: Date
    /// When it is deleted.
    public var expiresAt: Date

    /// - Parameters:
    ///   - id: the id.
    ///   - owner: whose it is.
    ///   - purpose: what it is for.
    ///   - filename: its name.
    ///   - bytes: its size.
    ///   - createdAt: when it was made.
    ///   - expiresAt: when it goes.
    public init(id: String, owner: Principal, purpose: String, filename: String, bytes: Int, createdAt: Date, expiresAt: Date) {
        self.id = id
        self.owner = owner
        self.purpose = purpose
        self.filename = filename
        self.bytes = bytes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// A batch: an input file's requests, run as batch-class jobs of its owner, and where it stands.
public struct BatchRecord: Sendable, Codable, Hashable {
    /// Where a batch is in its life (OpenAI's statuses).
    public enum Status: String, Sendable, Codable, CaseIterable {
        case validating, failed, in_progress, finalizing, completed, expired, cancelling, cancelled

        /// Whether a node still has work to do on it.
        public var isActive: Bool { [.validating, .in_progress, .finalizing, .cancelling].contains(self) }
    }

    /// A problem with one line that failed the whole batch (a URL other than the batch's endpoint).
    public struct LineError: Sendable, Codable, Hashable {
        public var code: String
        public var message: String
        /// 1-based.
        public var line: Int?

        public init(code: String, message: String, line: Int?) {
            self.code = code
            self.message = message
            self.line = line
        }
    }

    /// `batch_…`.
    public var id: String
    public var owner: Principal
    /// `/v1/chat/completions`, `/v1/responses` or `/v1/embeddings`.
    public var endpoint: String
    public var inputFileID: String
    /// `24h`.
    public var completionWindow: String
    public var metadata: [String: String]?
    public var status: Status
    public var createdAt: Date
    public var expiresAt: Date
    public var inProgressAt: Date?
    public var finalizingAt: Date?
    public var completedAt: Date?
    public var failedAt: Date?
    public var expiredAt: Date?
    public var cancellingAt: Date?
    public var cancelledAt: Date?
    public var outputFileID: String?
    public var errorFileID: String?
    /// Lines in the input.
    public var total = 0
    /// Lines answered 2xx.
    public var completed = 0
    /// Lines that ended otherwise.
    public var failed = 0
    /// Why it failed as a whole.
    public var errors: [LineError]?
    /// Ask every line anew, skipping the cache lookup (a schedule re-warming answers); nil: no.
    public var refresh: Bool?

    /// - Parameters:
    ///   - id: the id.
    ///   - owner: whose it is.
    ///   - endpoint: the API its lines call.
    ///   - inputFileID: the input file.
    ///   - completionWindow: the window as asked.
    ///   - metadata: the caller's metadata.
    ///   - createdAt: when it was made.
    ///   - expiresAt: when its window ends.
    public init(
        id: String, owner: Principal, endpoint: String, inputFileID: String, completionWindow: String, metadata: [String: String]?,
        createdAt: Date, expiresAt: Date
    ) {
        self.id = id
        self.owner = owner
        self.endpoint = endpoint
        self.inputFileID = inputFileID
        self.completionWindow = completionWindow
        self.metadata = metadata
        self.status = .validating
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

extension BatchRecord {
    /// The record with a cancel request applied: an active batch asked to stop is `cancelling`.
    public func applying(cancelAt: Date?) -> BatchRecord {
        guard let cancelAt, status.isActive, status != .cancelling else { return self }
        var batch = self
        batch.status = .cancelling
        batch.cancellingAt = cancelAt
        return batch
    }
}

/// One line's outcome, kept as it ends so that a batch resumes where it stopped.
public struct BatchLineResult: Sendable, Hashable {
    /// 0-based line number.
    public var line: Int
    /// Whether it goes to the output file (else the error file).
    public var ok: Bool
    /// The line as written to that file (JSON, no newline).
    public var data: Data

    public init(line: Int, ok: Bool, data: Data) {
        self.line = line
        self.ok = ok
        self.data = data
    }
}

/// Durable storage of the Batch API: files, batches under a lease (one node works on a batch at a
/// time; a batch whose node died is taken by another after its lease lapses), and each line's result.
public protocol BatchStore: Sendable {
    func addFile(_ file: StoredFile, content: Data) async throws
    func file(id: String) async throws -> StoredFile?
    func fileContent(id: String) async throws -> Data?
    /// An owner's files, newest first.
    func files(userKey: String, purpose: String?, limit: Int) async throws -> [StoredFile]
    /// False when there is no such file.
    func deleteFile(id: String) async throws -> Bool
    /// Deletes files past their expiry; returns how many.
    func deleteExpiredFiles(now: Date) async throws -> Int
    /// Stores a batch (new or changed).
    func saveBatch(_ batch: BatchRecord) async throws
    func batch(id: String) async throws -> BatchRecord?
    /// An owner's batches, newest first, after the batch `after` (by its creation) when given.
    func batches(userKey: String, after: String?, limit: Int) async throws -> [BatchRecord]
    /// Asks for a batch to be cancelled, kept apart from the batch's own record so that the node working
    /// on it cannot overwrite the request: reads show the batch `cancelling` from then on, until it ends.
    func cancelBatch(id: String, at date: Date) async throws
    /// Takes up to `limit` active batches no node holds (or whose node's lease lapsed) for `node`, oldest first.
    func claimBatches(node: String, limit: Int, leaseSeconds: Double) async throws -> [BatchRecord]
    /// Extends `node`'s lease on a batch; false when the node no longer holds it.
    func renewBatch(id: String, node: String, leaseSeconds: Double) async throws -> Bool
    /// Lets go of a batch (at shutdown), so that another node may take it at once.
    func releaseBatch(id: String, node: String) async throws
    /// Lets go of every batch: for a node that is the store's only user (embedded), at start, so that
    /// what the previous run held resumes at once rather than after its lease.
    func releaseAllBatches() async throws
    /// Keeps one line's result (replacing an earlier one for the same line).
    func addBatchResults(batchID: String, _ results: [BatchLineResult]) async throws
    /// Every result of a batch so far, by line.
    func batchResults(batchID: String) async throws -> [BatchLineResult]
    /// Forgets a batch's line results (once its output and error files hold them).
    func deleteBatchResults(batchID: String) async throws
}
