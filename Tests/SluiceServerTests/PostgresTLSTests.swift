import Foundation
import Logging
@testable import SluiceStore
import SluiceTesting
import Testing

/// PostgreSQL over TLS: the URL's `sslmode` and `sslrootcert` read as libpq reads them, against a
/// throwaway server with `ssl=on` and the committed test certificate (self-signed, for 127.0.0.1 and
/// localhost), which no system trust store knows.
@Suite struct PostgresTLSTests {
    static let authority = FakeUpstream.certificateFile

    @Test func sslmodeAndSslrootcertMeanWhatTheyMeanToLibpq() throws {
        func policy(_ query: String) throws -> PostgresStore.TLSPolicy {
            try PostgresStore.TLSPolicy(query: URLComponents(string: "postgres://db/x?" + query)?.queryItems ?? [])
        }
        let cases: [(query: String, use: PostgresStore.TLSPolicy.Use, verification: PostgresStore.TLSPolicy.Verification)] = [
            ("", .disable, .unverified),
            ("sslmode=disable", .disable, .unverified),
            ("sslmode=allow", .prefer, .unverified),
            ("sslmode=prefer", .prefer, .unverified),
            // Encrypted, not verified; with a CA file, as libpq does, the chain is checked.
            ("sslmode=require", .require, .unverified),
            ("sslmode=require&sslrootcert=/etc/ca.pem", .require, .chain),
            // Against the system's authorities the host must match too: any site's certificate has a chain.
            ("sslmode=verify-ca", .require, .chainAndHost),
            ("sslmode=require&sslrootcert=system", .require, .chainAndHost),
            // Both.
            ("sslmode=verify-full", .require, .chainAndHost),
            ("sslmode=verify-full&sslrootcert=system", .require, .chainAndHost),
        ]
        for (query, use, verification) in cases {
            let read = try policy(query)
            #expect(read.use == use && read.verification == verification, "\(query)")
        }
        #expect(try policy("sslmode=verify-full&sslrootcert=/etc/ca.pem").rootCertificate == "/etc/ca.pem")
        #expect(try policy("sslmode=verify-full&sslrootcert=system").rootCertificate == nil, "the system's trust store")
        #expect(throws: PostgresStore.BadURL.self) { try policy("sslmode=verify") }
        #expect(throws: PostgresStore.BadURL.self) { try policy("sslmode=verify-full&sslrootcert=") }
    }

    @Test func aServerWithTLSIsVerifiedAgainstTheNamedAuthorityAndRefusedWithoutIt() async throws {
        let server = try await TestPostgres.Server.start(tls: true)
        let url = try await server.makeDatabase()
        let logger = Logger(label: "test")
        func store(_ query: String) async throws -> PostgresStore {
            try await PostgresStore(configuration: .init(url: url + "?" + query, maxConnections: 2), logger: logger)
        }
        func connections(encrypted: Bool) async throws -> Int {
            let rows = try await server.query(url, """
                SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
                WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND s.ssl = \(encrypted)
                """)
            return Int(rows.first ?? "") ?? 0
        }

        // verify-full with the authority named: the chain is trusted and the certificate names 127.0.0.1.
        let verified = try await store("sslmode=verify-full&sslrootcert=\(Self.authority)")
        #expect(try await !verified.appliedMigrations().isEmpty)
        #expect(try await connections(encrypted: true) >= 1, "the store's connection is encrypted")
        await verified.shutdown()
        // verify-ca checks the chain alone; require encrypts without checking (libpq's meaning, so a
        // self-signed certificate passes).
        for query in ["sslmode=verify-ca&sslrootcert=\(Self.authority)", "sslmode=require"] {
            let other = try await store(query)
            #expect(try await !other.appliedMigrations().isEmpty, "\(query)")
            await other.shutdown()
        }

        // Without the authority, the system's trust store does not know the certificate: the start stops
        // at once, saying what to do, instead of the pool retrying for a minute.
        let started = ContinuousClock.now
        let refused = await #expect(throws: PostgresStore.TLSFailure.self) { _ = try await store("sslmode=verify-full") }
        #expect(refused.map { "\($0)".contains("sslrootcert") && "\($0)".contains("127.0.0.1") } == true, "\(String(describing: refused))")
        #expect(ContinuousClock.now - started < .seconds(10))

        // A CA file that is not there, or holds no certificate: refused, naming the file.
        let missing = "/nonexistent/sluice-ca.pem"
        let absent = await #expect(throws: PostgresStore.BadURL.self) { _ = try await store("sslmode=verify-full&sslrootcert=\(missing)") }
        #expect(absent.map { "\($0)".contains("there is no file at \(missing)") } == true, "\(String(describing: absent))")
        let key = Self.authority.replacingOccurrences(of: ".cert.pem", with: ".key.pem")
        let notCertificate = await #expect(throws: PostgresStore.BadURL.self) { _ = try await store("sslmode=verify-full&sslrootcert=\(key)") }
        #expect(notCertificate.map { "\($0)".contains("\(key) holds no PEM certificate") } == true, "\(String(describing: notCertificate))")

        // The server takes plain connections too: sslmode=disable still works against ssl=on.
        let plain = try await store("sslmode=disable")
        #expect(try await !plain.appliedMigrations().isEmpty)
        #expect(try await connections(encrypted: false) >= 1, "the store's connection is plain")
        await plain.shutdown()
        await server.stop()
    }
}
