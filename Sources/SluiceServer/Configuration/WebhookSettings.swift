import Configuration
import Foundation

/// How callbacks are signed and where they may go (`webhooks`, and a tenant's `tenants.<name>.webhooks`).
public struct WebhookSettings: Sendable {
    /// The signing secrets (`whsec_<base64>`), each signing every callback: two at once during a
    /// rotation. Secrets, never shown.
    public var secrets: [String] = []
    /// Hosts callbacks may go to: names (`hooks.example.org`, `*.example.org`), addresses and ranges
    /// (`10.1.2.0/24`). Empty: any public host. A loopback or private address is refused unless listed.
    public var allowedHosts: [String] = []
    /// How long a callback is retried before it goes to the dead-letter list (default a day).
    public var maxAgeSeconds = 86_400.0
    /// How long one attempt may take (default 10 s).
    public var timeoutSeconds = 10.0
    /// The first retry's backoff ceiling in milliseconds (default 5000), doubling up to `backoffMaxMs`
    /// (default an hour), with full jitter.
    public var backoffBaseMs = 5_000.0
    /// The largest backoff ceiling in milliseconds.
    public var backoffMaxMs = 3_600_000.0

    /// The defaults.
    public init() {}

    /// Reads `webhooks.*` (the global section).
    init(config: ConfigReader) {
        secrets = Self.split(config.string(forKey: "webhooks.secret", isSecret: true) ?? "")
        allowedHosts = config.stringArray(forKey: "webhooks.allowedHosts", default: [])
        maxAgeSeconds = config.double(forKey: "webhooks.maxAgeSeconds", default: maxAgeSeconds)
        timeoutSeconds = config.double(forKey: "webhooks.timeoutSeconds", default: timeoutSeconds)
        backoffBaseMs = config.double(forKey: "webhooks.backoffBaseMs", default: backoffBaseMs)
        backoffMaxMs = config.double(forKey: "webhooks.backoffMaxMs", default: backoffMaxMs)
    }

    /// Secrets written one after another, separated by commas or spaces.
    static func split(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
    }

    /// What is wrong with the settings at `path` (`webhooks`, `tenants.a.webhooks`).
    func check(_ list: inout ProblemList, path: String) {
        for secret in secrets where WebhookSigner.key(secret) == nil {
            // The secret itself is never repeated.
            list.add("\(path).secret", "a secret is not written whsec_ followed by 24 to 64 bytes in base64 (Standard Webhooks)")
        }
        if secrets.count > 2 {
            list.add("\(path).secret", "holds \(secrets.count) secrets; at most two sign at once (the old and the new, during a rotation)")
        }
        for host in allowedHosts where CallbackTarget.HostRule(host) == nil {
            list.add("\(path).allowedHosts", "\(ConfigurationProblem.quoted(host)) is not a host name, *.domain, an address or a range like 10.0.0.0/8")
        }
        list.positive("\(path).maxAgeSeconds", maxAgeSeconds)
        list.positive("\(path).timeoutSeconds", timeoutSeconds)
        list.notNegative("\(path).backoffBaseMs", backoffBaseMs)
        list.notNegative("\(path).backoffMaxMs", backoffMaxMs)
    }
}
