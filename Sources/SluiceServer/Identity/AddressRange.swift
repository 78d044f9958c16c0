#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A block of IP addresses written in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or as one address
/// (`192.0.2.7`, `::1`): whether an address falls in it. IPv4 and IPv6; an IPv4 address written as
/// IPv6 (`::ffff:10.1.2.3`, as a dual-stack socket reports it) is in the IPv4 ranges that hold it.
public struct AddressRange: Sendable, Hashable {
    /// The network's bytes, 4 (IPv4) or 16 (IPv6), with the bits past the prefix cleared.
    let network: [UInt8]
    /// How many leading bits an address must share with the network.
    let prefixLength: Int

    private init(network: [UInt8], prefixLength: Int) {
        self.network = Self.masked(network, prefixLength)
        self.prefixLength = prefixLength
    }

    /// - Parameter cidr: `address/prefix-length`, or one address (all its bits); nil when it is neither
    ///   (`problem(cidr:)` says why).
    public init?(cidr: String) {
        guard case .range(let network, let prefixLength) = Self.parse(cidr) else { return nil }
        self.init(network: network, prefixLength: prefixLength)
    }

    /// Whether an address is in the range. An address that is not an IP address (a host name, empty)
    /// is in no range; brackets (`[::1]`) and a zone (`fe80::1%eth0`) are allowed.
    public func contains(_ ip: String) -> Bool {
        guard var address = Self.bytes(of: ip) else { return false }
        let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
        if network.count == 4, address.count == 16, Array(address[0..<12]) == mappedPrefix {
            address = Array(address[12...])
        }
        guard address.count == network.count else { return false }
        return Self.masked(address, prefixLength) == network
    }

    /// What is wrong with a range as written, or nil when it is a range. The answer does not repeat the
    /// whole text (the caller names it): `has the prefix length "33", which is not a number from 0 to 32 …`.
    public static func problem(cidr: String) -> String? {
        if case .problem(let message) = parse(cidr) { return message }
        return nil
    }

    /// A range as read, or what is wrong with it.
    private enum Parsed {
        case range([UInt8], Int)
        case problem(String)
    }

    private static func parse(_ text: String) -> Parsed {
        let example = "write a range like 10.0.0.0/8 or fd00::/8, or one address like 192.0.2.7"
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let addressText = parts[0]
        guard !addressText.isEmpty else { return .problem("has no address: \(example)") }
        guard let bytes = Self.bytes(of: addressText) else {
            return .problem("has \(ConfigurationProblem.quoted(addressText)), which is not an IPv4 or IPv6 address: \(example)")
        }
        let width = bytes.count * 8
        guard parts.count == 2 else { return .range(bytes, width) }
        let lengthText = parts[1]
        guard !lengthText.isEmpty, lengthText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let length = Int(lengthText),
              (0...width).contains(length)
        else {
            let family = bytes.count == 4 ? "IPv4" : "IPv6"
            return .problem("has the prefix length \(ConfigurationProblem.quoted(lengthText)), which is not a number from 0 to \(width) (the bits of an \(family) address)")
        }
        return .range(bytes, length)
    }

    /// The bytes of an IPv4 (4) or IPv6 (16) address, or nil when the text is neither.
    static func bytes(of text: String) -> [UInt8]? {
        var host = Substring(text)
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if let zone = host.firstIndex(of: "%") { host = host[..<zone] }
        let address = String(host)
        guard !address.isEmpty else { return nil }
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, address, &v4) == 1 {
            return v4
        }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, address, &v6) == 1 {
            return v6
        }
        return nil
    }

    /// The bytes with every bit past the first `prefixLength` cleared.
    private static func masked(_ bytes: [UInt8], _ prefixLength: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let kept = min(8, max(0, prefixLength - index * 8))
            result[index] &= ~(UInt8.max >> kept)
        }
        return result
    }
}
