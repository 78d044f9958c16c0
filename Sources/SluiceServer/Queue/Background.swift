import Foundation
import SluiceCore

/// What a caller that does not wait asks beside its request (`POST /v1/jobs`, a background response):
/// when the job may start, and where to tell its end.
struct Background: Sendable {
    /// Not to start before this (`not_before`): it skips the cache and single-flight, and is `scheduled`
    /// until then.
    var notBefore: Date?
    /// Where the job's final object goes (`callback_url`), checked against the owner's allowed hosts; it
    /// runs as a job of its own (never following another's).
    var callback: String?
    /// When it must have started: nil for `queue.deadlineSeconds` after it may start (a person is
    /// waiting); a batch's line waits as long as its batch's window instead.
    var deadline: Date?

    /// The longest a job may be delayed.
    static let maxDelaySeconds = 30.0 * 86_400

    /// Takes Sluice's fields out of a jobs request's body (so they never reach a provider) and checks them.
    static func taking(from extra: inout [String: JSONValue], now: Date) throws -> Background {
        var background = Background()
        if let raw = extra.removeValue(forKey: "not_before"), raw != .null {
            guard let seconds = raw.number, seconds.isFinite else {
                throw BodyFields.wrongType("not_before", "must be a time in seconds since 1970 (a Unix timestamp)")
            }
            guard seconds <= now.timeIntervalSince1970 + maxDelaySeconds else {
                throw BodyFields.wrongType("not_before", "must be within 30 days from now")
            }
            background.notBefore = Date(timeIntervalSince1970: seconds)
        }
        if let raw = extra.removeValue(forKey: "callback_url"), raw != .null {
            guard let url = raw.string else { throw BodyFields.wrongType("callback_url", "must be a string") }
            background.callback = url
        }
        return background
    }
}
