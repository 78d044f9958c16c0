import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import SluiceCore

/// The public keys end-user tokens are checked against: those of a JWKS file and of a JWKS URL (fetched
/// with a time and size limit), loaded into one jwt-kit key collection at a time.
///
/// A token naming a key (`kid`) that is not in the set loads it again (the file is read again too), at
/// most once per `refetchInterval`, so that a flood of made-up kids cannot hammer the identity provider;
/// concurrent loads are one. The set is also loaded again when older than `maxAge`, so that keys the
/// provider retired stop being trusted. A failed fetch keeps the keys the URL gave last.
///
/// Keys are taken one by one: one the server cannot use (an encryption key, a `kty` or `alg` jwt-kit does
/// not know, no `kid`, RSA under 2048 bits) is skipped, not the whole set as jwt-kit's `add(jwks:)` would.
/// A key without `alg` is pinned to the algorithm its type implies (RS256; ES256, ES384 or ES512 by
/// curve; EdDSA): jwt-kit would otherwise build its verifier from the first token's header `alg` and keep
/// that for good.
actor KeySet {
    /// The key a token names: the collection that holds it and the one algorithm it verifies.
    struct Match: Sendable {
        let keys: JWTKeyCollection
        let algorithm: String
    }

    /// The signing algorithms a public key may have.
    static let algorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
    /// Most keys taken from one document.
    static let maxKeys = 100
    /// Largest JWKS document read from the URL.
    static let maxBodyBytes = 1 << 20

    private struct Loaded: Sendable {
        var keys: JWTKeyCollection
        /// The algorithm of each key, by kid.
        var algorithms: [String: String]
        /// What the URL gave last (kept when a fetch fails).
        var fromURL: [JWK]
        var at: ContinuousClock.Instant
    }

    private let file: String?
    private let url: String?
    private let client: HTTPClient
    private let logger: Logger
    private let refetchInterval: Duration
    private let maxAge: Duration
    private let fetchTimeoutSeconds: Int64
    private var loaded: Loaded?
    private var loading: Task<Loaded, Never>?

    /// - Parameters:
    ///   - file: a JWKS file.
    ///   - url: a JWKS URL.
    ///   - client: the HTTP client for the URL.
    ///   - logger: where load failures are told (never a token).
    ///   - refetchInterval: the least time between loads for unknown kids.
    ///   - maxAge: the time after which the set is loaded again anyway.
    ///   - fetchTimeoutSeconds: the time a fetch of the URL may take, body included.
    init(
        file: String?, url: String?, client: HTTPClient, logger: Logger,
        refetchInterval: Duration = .seconds(10), maxAge: Duration = .seconds(3600), fetchTimeoutSeconds: Int64 = 5
    ) {
        self.file = file
        self.url = url
        self.client = client
        self.logger = logger
        self.refetchInterval = refetchInterval
        self.maxAge = maxAge
        self.fetchTimeoutSeconds = fetchTimeoutSeconds
    }

    /// The key named `kid` (with no kid, the only key when there is exactly one); nil when there is none,
    /// even after loading the set again (when the last load is old enough).
    func match(kid: String?) async -> Match? {
        var current: Loaded
        if let loaded, loaded.at.duration(to: .now) < maxAge {
            current = loaded
        } else {
            current = await load()
        }
        if let found = Self.find(kid, in: current) { return found }
        guard current.at.duration(to: .now) >= refetchInterval else { return nil }
        current = await load()
        return Self.find(kid, in: current)
    }

    private static func find(_ kid: String?, in loaded: Loaded) -> Match? {
        if let kid {
            return loaded.algorithms[kid].map { Match(keys: loaded.keys, algorithm: $0) }
        }
        guard loaded.algorithms.count == 1, let only = loaded.algorithms.first else { return nil }
        return Match(keys: loaded.keys, algorithm: only.value)
    }

    /// Loads the set, or waits for the load already under way.
    private func load() async -> Loaded {
        if let loading { return await loading.value }
        let task = Task { [file, url, client, logger, fetchTimeoutSeconds, previous = loaded?.fromURL ?? []] in
            await KeySet.read(file: file, url: url, previous: previous, client: client, logger: logger, timeoutSeconds: fetchTimeoutSeconds)
        }
        loading = task
        let fresh = await task.value
        loading = nil
        loaded = fresh
        return fresh
    }

    private static func read(
        file: String?, url: String?, previous: [JWK], client: HTTPClient, logger: Logger, timeoutSeconds: Int64
    ) async -> Loaded {
        var fromFile: [JWK] = []
        if let file {
            do {
                fromFile = try parse(Data(contentsOf: URL(fileURLWithPath: file)))
            } catch {
                logger.error("The JWKS file cannot be read; tokens signed with its keys are refused", metadata: ["file": "\(file)", "error": "\(error)"])
            }
        }
        var fromURL = previous
        if let url {
            do {
                let body = try await fetch(url, client: client, timeoutSeconds: timeoutSeconds)
                fromURL = try parse(body)
            } catch {
                logger.warning("The JWKS URL cannot be read; the keys it gave last are kept", metadata: ["url": "\(url)", "error": "\(error)"])
            }
        }
        let keys = JWTKeyCollection()
        var algorithms: [String: String] = [:]
        for jwk in fromFile + fromURL {
            guard let kid = jwk.keyIdentifier?.string, let algorithm = jwk.algorithm?.rawValue else { continue }
            do {
                try await keys.add(jwk: jwk)
                algorithms[kid] = algorithm
            } catch {
                logger.warning("A JWKS key cannot be used and is skipped", metadata: ["kid": "\(kid)", "error": "\(error)"])
            }
        }
        if algorithms.isEmpty { logger.error("No usable key in the JWKS; every token signed with a public key is refused") }
        return Loaded(keys: keys, algorithms: algorithms, fromURL: fromURL, at: .now)
    }

    /// The signing keys of a JWKS document that the server can use.
    static func parse(_ data: Data) throws -> [JWK] {
        try JSONDecoder().decode(Document.self, from: data).keys.prefix(Self.maxKeys).compactMap(\.jwk)
    }

    private struct Document: Decodable {
        let keys: [Entry]
    }

    /// One key of a document; `jwk` is nil when it is not a signing key the server can use.
    private struct Entry: Decodable {
        let jwk: JWK?

        init(from decoder: any Decoder) throws {
            let fields = try JSONValue(from: decoder)
            let use = fields["use"]
            guard use == nil || use == JSONValue.string("sig"),
                  let kid = fields["kid"]?.string, !kid.isEmpty,
                  var key = try? JWK(from: decoder)
            else {
                self.jwk = nil
                return
            }
            if key.algorithm == nil { key.algorithm = Self.impliedAlgorithm(of: key) }
            guard let algorithm = key.algorithm, KeySet.algorithms.contains(algorithm.rawValue) else {
                self.jwk = nil
                return
            }
            self.jwk = key
        }

        static func impliedAlgorithm(of key: JWK) -> JWK.Algorithm? {
            if key.keyType == .rsa { return .rs256 }
            if key.keyType == .octetKeyPair { return .eddsa }
            guard key.keyType == .ecdsa else { return nil }
            switch key.curve?.rawValue ?? "" {
            case "P-256": return .es256
            case "P-384": return .es384
            case "P-521": return .es512
            default: return nil
            }
        }
    }

    struct FetchFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// The body of `url`, within `timeoutSeconds` from the request to the last byte and `maxBodyBytes`.
    private static func fetch(_ url: String, client: HTTPClient, timeoutSeconds: Int64) async throws -> Data {
        try await withThrowingTaskGroup(of: Data?.self) { group in
            group.addTask {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: "application/json")
                let response = try await client.execute(request, timeout: .seconds(timeoutSeconds))
                guard response.status == .ok else {
                    throw FetchFailure(description: "the server answered \(response.status.code)")
                }
                let body = try await response.body.collect(upTo: KeySet.maxBodyBytes)
                return Data(body.readableBytesView)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeoutSeconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let data = first else {
                throw FetchFailure(description: "no whole answer within \(timeoutSeconds) seconds")
            }
            return data
        }
    }
}
