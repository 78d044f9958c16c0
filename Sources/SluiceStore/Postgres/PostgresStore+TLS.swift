import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// TLS to the database, as libpq reads the URL: `sslmode` and `sslrootcert`, with libpq's meanings.
extension PostgresStore {
    /// How connections use TLS.
    struct TLSPolicy: Equatable, Sendable {
        /// Whether TLS is used.
        enum Use: Equatable, Sendable {
            /// Plain text (`disable`, the default here; libpq's default is `prefer`).
            case disable
            /// TLS when the server offers it, else plain text (`prefer`; `allow` too: PostgresNIO cannot try
            /// plain text first, so `allow` encrypts whenever the server can).
            case prefer
            /// TLS, or no connection (`require`, `verify-ca`, `verify-full`).
            case require
        }

        /// What is checked of the server's certificate.
        enum Verification: Equatable, Sendable {
            /// Nothing: encrypted, not authenticated (`allow`, `prefer`, `require` without `sslrootcert`).
            case unverified
            /// Its chain, up to a trusted authority, but not the host name it is for (`verify-ca`; and
            /// `require` with `sslrootcert`, as libpq does).
            case chain
            /// Its chain and that it names the host connected to (`verify-full`).
            case chainAndHost
        }

        /// The `sslmode` as written (`disable` when absent).
        var mode: String
        var use: Use
        var verification: Verification
        /// The PEM file of the authorities to trust (`sslrootcert`); nil: the system's (no `sslrootcert`, or
        /// `sslrootcert=system`).
        var rootCertificate: String?

        /// The `sslmode`s libpq knows.
        static let modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

        /// The policy a URL's query asks for.
        init(query items: [URLQueryItem]) throws(BadURL) {
            mode = items.first { $0.name == "sslmode" }?.value ?? "disable"
            let root = items.first { $0.name == "sslrootcert" }?.value
            if root?.isEmpty == true {
                throw BadURL(description: "the database URL has an empty sslrootcert: name the PEM file of the authority that signed the server's certificate")
            }
            rootCertificate = root == "system" ? nil : root
            switch mode {
            case "disable":
                use = .disable
                verification = .unverified
            case "allow", "prefer":
                use = .prefer
                verification = .unverified
            case "require":
                use = .require
                // As libpq: `sslrootcert=system` means verify-full; a named file, the chain; none, nothing.
                verification = root == "system" ? .chainAndHost : (rootCertificate == nil ? .unverified : .chain)
            case "verify-ca":
                use = .require
                // Against the system's many authorities, a chain without the host name proves nothing (any
                // site's certificate has one): the host must match too. A named authority checks the chain.
                verification = rootCertificate == nil ? .chainAndHost : .chain
            case "verify-full":
                use = .require
                verification = .chainAndHost
            default:
                throw BadURL(description: "the database URL has sslmode=\(mode), which is not one of \(Self.modes.joined(separator: ", "))")
            }
        }

        /// The client's TLS settings: what it verifies, and against which authorities. Reads `sslrootcert`
        /// when it is used, so that a missing or malformed file stops the start, naming the file.
        func clientConfiguration() throws(BadURL) -> TLSConfiguration {
            var tls = TLSConfiguration.makeClientConfiguration()
            switch verification {
            case .unverified: tls.certificateVerification = .none
            case .chain: tls.certificateVerification = .noHostnameVerification
            case .chainAndHost: tls.certificateVerification = .fullVerification
            }
            if verification != .unverified, let file = rootCertificate {
                guard FileManager.default.fileExists(atPath: file) else {
                    throw BadURL(description: "the database URL has sslrootcert=\(file), but there is no file at \(file)")
                }
                guard FileManager.default.isReadableFile(atPath: file) else {
                    throw BadURL(description: "the database URL has sslrootcert=\(file), but \(file) cannot be read")
                }
                let certificates = try? NIOSSLCertificate.fromPEMFile(file)
                guard let certificates, !certificates.isEmpty else {
                    throw BadURL(description: "the database URL has sslrootcert=\(file), but \(file) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
                }
                tls.trustRoots = .certificates(certificates)
            }
            return tls
        }
    }

    /// The database refused the TLS the URL asks for: the server has none, or its certificate is not
    /// trusted, or names another host.
    public struct TLSFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where a URL leads, and how.
    struct Endpoint {
        var host: String
        var port: Int
        var username: String
        var password: String?
        var database: String?
        var policy: TLSPolicy
        var tls: TLSConfiguration

        init(url: String) throws(BadURL) {
            guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
                  let host = components.host, !host.isEmpty
            else {
                throw BadURL(description: "the database URL must look like postgres://user:password@host:5432/database")
            }
            self.host = host
            port = components.port ?? 5432
            username = components.user ?? "postgres"
            password = components.password
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            database = path.isEmpty ? nil : path
            policy = try TLSPolicy(query: components.queryItems ?? [])
            tls = try policy.clientConfiguration()
        }

        /// The pool's settings.
        var clientConfiguration: PostgresClient.Configuration {
            let mode: PostgresClient.Configuration.TLS = switch policy.use {
            case .disable: .disable
            case .prefer: .prefer(tls)
            case .require: .require(tls)
            }
            return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: mode)
        }

        /// When TLS is required, opens one connection and closes it, so that a server without TLS, or one
        /// whose certificate is refused, stops the start at once with what to do (the pool would retry for
        /// a minute, then report only that it could not connect). Any other failure (the server is down, a
        /// wrong password) is left to the pool, as without TLS.
        func probe(logger: Logger) async throws {
            guard policy.use == .require else { return }
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: tls)
            } catch {
                throw TLSFailure(description: "the TLS settings of the database URL (sslmode=\(policy.mode)) cannot be used: \(error)")
            }
            let configuration = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: .require(context))
            let connection: PostgresConnection
            do {
                connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            } catch {
                if let failure = tlsFailure(error) { throw failure }
                return
            }
            try? await connection.close()
        }

        /// What a failed connection says about TLS, or nil when it failed for another reason.
        func tlsFailure(_ error: any Error) -> TLSFailure? {
            guard let error = error as? PSQLError else { return nil }
            let place = "the database at \(host):\(port)"
            if error.code == .sslUnsupported {
                return TLSFailure(description: """
                    \(place) does not offer TLS, and sslmode=\(policy.mode) requires it: turn ssl on in the server's configuration, \
                    or use sslmode=prefer (encrypted when the server can) or sslmode=disable
                    """)
            }
            guard let underlying = error.underlying else { return nil }
            if let hostname = underlying as? NIOSSLExtraError, hostname == .failedToValidateHostname {
                return TLSFailure(description: """
                    \(place) presented a certificate that does not name \(host) (sslmode=\(policy.mode) checks the host name): \
                    connect by a name the certificate lists, or use sslmode=verify-ca to check the authority only (\(underlying))
                    """)
            }
            guard underlying is NIOSSLError || underlying is BoringSSLError || underlying is NIOSSLExtraError else { return nil }
            let authority = policy.rootCertificate.map { "the authority in \($0) (sslrootcert)" } ?? "the system's trusted authorities"
            return TLSFailure(description: """
                the TLS handshake with \(place) failed: sslmode=\(policy.mode) checks the server's certificate against \(authority), \
                and it did not pass (\(underlying)). Name the authority that signed it with sslrootcert=/path/to/ca.pem in the \
                database URL, or use sslmode=require to encrypt without verifying
                """)
        }
    }
}
