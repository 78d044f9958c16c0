import Configuration
import Foundation

/// The Batch API (`batches`): how large its files may be, how long they are kept, and how much of the
/// node a batch may use at once.
public struct BatchSettings: Sendable {
    /// The largest file `POST /v1/files` takes (default 100 MB).
    public var maxFileBytes = 100 << 20
    /// The most lines (requests) in one batch file (default 50,000, as OpenAI).
    public var maxLines = 50_000
    /// Days a file (input, output, error) is kept (default 30).
    public var fileRetentionDays = 30.0
    /// Lines of one batch running or queued at once (default a quarter of the workers, at least 1): the
    /// rest of the node stays free for interactive work, which the queue serves first anyway.
    public var concurrency: Int?
    /// Batches one node works on at once (default 4); others wait for a node with room.
    public var batchesPerNode = 4

    /// The defaults.
    public init() {}

    init(config: ConfigReader) {
        maxFileBytes = config.int(forKey: "batches.maxFileBytes", default: maxFileBytes)
        maxLines = config.int(forKey: "batches.maxLines", default: maxLines)
        fileRetentionDays = config.double(forKey: "batches.fileRetentionDays", default: fileRetentionDays)
        concurrency = config.int(forKey: "batches.concurrency")
        batchesPerNode = config.int(forKey: "batches.batchesPerNode", default: batchesPerNode)
    }

    /// Lines of one batch in flight at once, for a node with `workers` workers.
    func lines(workers: Int) -> Int { concurrency ?? max(1, workers / 4) }

    /// The largest `maxFileBytes` may be: an upload is held in memory while it is read and checked.
    static let largestFile = 1 << 30

    func check(_ list: inout ProblemList) {
        list.atLeast("batches.maxFileBytes", maxFileBytes, 1)
        list.atMost("batches.maxFileBytes", maxFileBytes, Self.largestFile)
        list.atMost("batches.maxLines", maxLines, 1_000_000)
        list.atLeast("batches.maxLines", maxLines, 1)
        list.positive("batches.fileRetentionDays", fileRetentionDays)
        list.atLeast("batches.concurrency", concurrency, 1)
        list.atLeast("batches.batchesPerNode", batchesPerNode, 1)
    }
}
