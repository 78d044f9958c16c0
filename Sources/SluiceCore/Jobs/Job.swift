public import Foundation

/// One chat request on its way through the queue; the unit that is stored, run, streamed and resumed.
public struct Job: Sendable, Codable, Identifiable {
    /// The job id (`job_…`), unguessable.
    public var id: String
    /// Whom it belongs to.
    public var owner: Principal
    /// Its priority class.
    public var priority: PriorityClass
    /// Where it is in its life.
    public var state: JobState
    /// Attempts started so far.
    public var attempt: Int
    /// The request as the caller sent it (validated).
    public var request: ChatRequest
    /// The API it came through; nil for chat completions and the jobs API (older jobs say nothing).
    public var origin: JobOrigin?
    /// The trace of the request that made it (W3C `traceparent`, `tracestate`), continued by the worker
    /// that runs it; nil without tracing.
    public var trace: [String: String]?
    /// When it was accepted.
    public var createdAt: Date
    /// When its current attempt started.
    public var startedAt: Date?
    /// When it ended.
    public var finishedAt: Date?
    /// After this it may not start: it expires.
    public var deadline: Date
    /// Not to be started before this: a delayed job's time (`not_before`), or a retry's backoff.
    public var notBefore: Date?
    /// Where its final object is POSTed when it ends (`callback_url`), signed; nil: nowhere.
    public var callback: String?
    /// The answer, once succeeded.
    public var result: JobResult?
    /// Why it failed, expired or was cancelled.
    public var failure: JobFailure?
    /// The deployment of the current or last attempt.
    public var deployment: String?
    /// Deployments an attempt failed on, avoided by the next attempt when another has room.
    public var tried: [String]?
    /// Its place in the owner's rate and quota counters, settled when it ends.
    public var reservation: AdmissionLedger.Reservation?
    /// How its answer relates to the response cache.
    public var cache: CachePlan?
    /// On a shared store: the node that holds the job (runs it, or will), nil while any node may claim it.
    public var node: String?
    /// On a shared store: the lease's fencing token, raised by every claim and rescue; a write that
    /// carries an older one is refused, so a node that lost its lease cannot overwrite the job.
    public var fence: Int?

    /// - Parameters:
    ///   - id: the job id.
    ///   - owner: the principal.
    ///   - priority: the class.
    ///   - request: the validated request.
    ///   - createdAt: acceptance time.
    ///   - deadline: start-by time.
    public init(id: String, owner: Principal, priority: PriorityClass, request: ChatRequest, createdAt: Date, deadline: Date) {
        self.id = id
        self.owner = owner
        self.priority = priority
        self.state = .queued
        self.attempt = 0
        self.request = request
        self.createdAt = createdAt
        self.deadline = deadline
    }

    /// Whether it waits for the time its owner asked it to start at (`scheduled` in the API).
    public func isScheduled(at now: Date) -> Bool {
        state == .queued && attempt == 0 && (notBefore.map { $0 > now } ?? false)
    }

    /// A new job id: the time, then 128 random bits (`RandomID.timeOrdered`). The stores' indexes on job
    /// ids (the job's row, its chunks) then grow at one end instead of taking each new job on a random page.
    public static func newID() -> String {
        RandomID.timeOrdered("job_", words: 2)
    }
}

/// The answer of a finished job.
public struct JobResult: Sendable, Codable, Hashable {
    /// The whole text.
    public var text: String
    /// `stop`, `length`, …
    public var finishReason: String
    /// Token counts.
    public var usage: Usage
    /// What the answer cost in US dollars, by the deployment's price table.
    public var cost: Double?
    /// Everything beyond choice 0's text (tool calls, a refusal, log probabilities, other choices), one
    /// piece per choice; nil for a plain answer.
    public var pieces: [ChoiceDelta]?
    /// The provider's `system_fingerprint`.
    public var fingerprint: String?

    /// - Parameters:
    ///   - text: the answer.
    ///   - finishReason: why it ended.
    ///   - usage: token counts.
    ///   - cost: the cost in US dollars.
    ///   - pieces: the rest of the answer.
    ///   - fingerprint: the provider's fingerprint.
    public init(text: String, finishReason: String, usage: Usage, cost: Double? = nil, pieces: [ChoiceDelta]? = nil, fingerprint: String? = nil) {
        self.text = text
        self.finishReason = finishReason
        self.usage = usage
        self.cost = cost
        self.pieces = pieces
        self.fingerprint = fingerprint
    }

    /// The whole answer, put together again.
    public var assembly: AnswerAssembly { AnswerAssembly(text: text, pieces: pieces ?? []) }
}

/// Why a job did not succeed.
public struct JobFailure: Sendable, Codable, Hashable {
    /// A stable code (`provider_error`, `deadline_exceeded`, `cancelled`, …).
    public var code: String
    /// A message for people (English).
    public var message: String

    /// - Parameters:
    ///   - code: a stable code.
    ///   - message: a message for people.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A job's place in the response cache: its exact key, where its answer goes, and whether it came from there.
public struct CachePlan: Sendable, Codable, Hashable {
    /// The exact key.
    public var key: String
    /// The namespace, empty for none.
    public var namespace: String
    /// Tags for invalidation.
    public var tags: [String]
    /// Whether to store the answer (`Cache-Control: no-store` and simple mode say no).
    public var store: Bool
    /// `exact` when the answer was served from the cache.
    public var servedFrom: String?
    /// The question's place in the semantic index, computed when the request was looked up.
    public var semantic: SemanticKey?

    /// - Parameters:
    ///   - key: the exact key.
    ///   - namespace: the namespace.
    ///   - tags: tags.
    ///   - store: whether to store the answer.
    ///   - servedFrom: the cache layer that answered, if one did.
    public init(key: String, namespace: String, tags: [String], store: Bool, servedFrom: String? = nil) {
        self.key = key
        self.namespace = namespace
        self.tags = tags
        self.store = store
        self.servedFrom = servedFrom
    }
}

/// Where a cached answer sits in the semantic index.
public struct SemanticKey: Sendable, Codable, Hashable {
    /// The embedder that made the vector.
    public var embedder: String
    /// The partition without the namespace: tenant, alias, the fingerprint of every earlier message, and
    /// the question's guard (its language, numbers and negation).
    public var partition: String
    /// The question's vector.
    public var vector: [Float]
    /// The question's content terms: a match must cover them, and the stored question's, both ways.
    /// Entries written before terms were kept have none and are never matched.
    public var terms: [String]?

    /// - Parameters:
    ///   - embedder: the embedder.
    ///   - partition: the partition.
    ///   - vector: the vector.
    ///   - terms: the question's content terms.
    public init(embedder: String, partition: String, vector: [Float], terms: [String]?) {
        self.embedder = embedder
        self.partition = partition
        self.vector = vector
        self.terms = terms
    }

    enum CodingKeys: String, CodingKey {
        case embedder, partition, vector, terms
    }

    /// The vector is written as its 32-bit floats' bytes (little-endian) in base64, not as a list of
    /// decimal numbers: it goes into every save of its job, and a profile of the exam night found the
    /// numbers' encoding most of a job's. A list of numbers, as rows written before, is read too.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(embedder, forKey: .embedder)
        try container.encode(partition, forKey: .partition)
        var bytes = Data(capacity: vector.count * 4)
        for float in vector { withUnsafeBytes(of: float.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        try container.encode(bytes, forKey: .vector)
        try container.encodeIfPresent(terms, forKey: .terms)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        embedder = try container.decode(String.self, forKey: .embedder)
        partition = try container.decode(String.self, forKey: .partition)
        terms = try container.decodeIfPresent([String].self, forKey: .terms)
        guard let bytes = try? container.decode(Data.self, forKey: .vector) else {
            vector = try container.decode([Float].self, forKey: .vector)
            return
        }
        guard bytes.count % 4 == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .vector, in: container, debugDescription: "a vector's bytes are not whole 32-bit floats")
        }
        vector = bytes.withUnsafeBytes { raw in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

