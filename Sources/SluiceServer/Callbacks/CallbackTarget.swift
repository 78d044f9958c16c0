#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOPosix
import SluiceCore

/// Where a callback may go. A callback is a request Sluice makes on a caller's behalf, so it must not
/// be aimed at what stands beside Sluice: loopback, private, link-local and other non-public addresses
/// are refused unless the tenant's `webhooks.allowedHosts` lists the host (or its range); and when the
/// list is not empty, only hosts on it are allowed at all. A name is checked again at delivery, on every
/// address it resolves to.
struct CallbackTarget: Sendable {
    /// One entry of `allowedHosts`.
    enum HostRule: Sendable, Hashable {
        /// A host name, exactly (lowercased).
        case name(String)
        /// `*.example.org`: any host under it.
        case suffix(String)
        /// An address or a range.
        case range(AddressRange)

        init?(_ text: String) {
            let entry = text.trimmingCharacters(in: .whitespaces).lowercased()
            if entry.isEmpty { return nil }
            if let range = AddressRange(cidr: entry) {
                self = .range(range)
            } else if entry.hasPrefix("*."), Self.isHostName(String(entry.dropFirst(2))) {
                self = .suffix(String(entry.dropFirst(1)))
            } else if Self.isHostName(entry) {
                self = .name(entry)
            } else {
                return nil
            }
        }

        static func isHostName(_ text: String) -> Bool {
            !text.isEmpty && text.count <= 253 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
        }

        /// Whether the rule names this host (lowercased) or address.
        func matches(host: String) -> Bool {
            switch self {
            case .name(let name): host == name
            case .suffix(let suffix): host.hasSuffix(suffix)
            case .range(let range): range.contains(host)
            }
        }
    }

    /// The addresses a callback never reaches unless they are listed: this machine, private networks,
    /// link-local (cloud metadata services), carrier-grade NAT, multicast, reserved.
    static let nonPublic: [AddressRange] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    ].compactMap { AddressRange(cidr: $0) }

    let rules: [HostRule]

    init(allowedHosts: [String]) {
        rules = allowedHosts.compactMap(HostRule.init)
    }

    /// The URL a caller gave, checked before anything is stored: a 400 that says what is wrong.
    func check(_ text: String) throws -> URL {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty, url.user == nil, url.password == nil
        else {
            throw Self.refusal("must be an http or https URL with a host and no user name or password, at most 2048 bytes",
                               "хост бүхий, хэрэглэгчийн нэр, нууц үггүй http эсвэл https хаяг байх ёстой")
        }
        if let problem = problem(host: host.lowercased(), addresses: nil) { throw problem }
        return url
    }

    /// Why a callback to `host` is refused, or nil when it may go; `addresses` are what the name
    /// resolved to (nil before resolving: only an address written in the URL, or `localhost`, is judged).
    func problem(host rawHost: String, addresses: [String]?) -> SluiceError? {
        var host = rawHost
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if !rules.isEmpty, !rules.contains(where: { $0.matches(host: host) }) {
            return Self.refusal("the host \(host.prefix(100)) is not in webhooks.allowedHosts",
                                "\(host.prefix(100)) хост webhooks.allowedHosts жагсаалтад алга")
        }
        let listed = rules.contains { rule in
            if case .suffix = rule { return false }
            return rule.matches(host: host)
        }
        if listed { return nil }
        let isAddress = AddressRange(cidr: host) != nil
        var judged = isAddress ? [host] : addresses ?? []
        if host == "localhost" || host.hasSuffix(".localhost") { judged.append("127.0.0.1") }
        for address in judged where Self.nonPublic.contains(where: { $0.contains(address) }) {
            // A listed range lets its own addresses through.
            if rules.contains(where: { rule in if case .range(let range) = rule { range.contains(address) } else { false } }) { continue }
            return Self.refusal("the host \(host.prefix(100)) is a loopback or private address, allowed only when webhooks.allowedHosts lists it",
                                "\(host.prefix(100)) хост нь дотоод сүлжээний хаяг тул webhooks.allowedHosts-д бичээгүй бол зөвшөөрөхгүй")
        }
        return nil
    }

    static func refusal(_ reason: String, _ mongolian: String) -> SluiceError {
        SluiceError(.invalidParameter, details: ["field": "callback_url", "reason": reason, "reason_mn": mongolian])
    }

    /// The addresses a host name resolves to (an address resolves to itself), asked off the event loops.
    static func resolve(_ host: String) async throws -> [String] {
        var bare = host
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        if AddressRange(cidr: bare) != nil { return [bare] }
        let name = bare
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            #else
            hints.ai_socktype = SOCK_STREAM
            #endif
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
            defer { freeaddrinfo(first) }
            var addresses: [String] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if let address = entry.pointee.ai_addr,
                   getnameinfo(address, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0
                {
                    addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
                cursor = entry.pointee.ai_next
            }
            return addresses
        }
    }
}
