/// Exponential backoff with full jitter: the n-th retry waits a random time in [0, min(cap, base·2ⁿ⁻¹)].
public struct Backoff: Sendable, Hashable {
    /// The first retry's upper bound, in seconds.
    public var base: Double
    /// The largest upper bound, in seconds.
    public var cap: Double

    /// - Parameters:
    ///   - base: the first retry's upper bound in seconds (default 0.5).
    ///   - cap: the largest upper bound in seconds (default 8).
    public init(base: Double = 0.5, cap: Double = 8) {
        self.base = base
        self.cap = cap
    }

    /// The upper bound of the wait before retry number `retry` (1-based).
    public func ceiling(retry: Int) -> Double {
        let exponent = Double(max(0, min(retry - 1, 30)))
        return min(cap, base * Double(1 << Int(exponent)))
    }

    /// A wait before retry number `retry`, drawn uniformly from [0, ceiling].
    public func delay(retry: Int, using rng: inout some RandomNumberGenerator) -> Double {
        Double.random(in: 0...ceiling(retry: retry), using: &rng)
    }

    /// A wait before retry number `retry`, with the system generator.
    public func delay(retry: Int) -> Double {
        var rng = SystemRandomNumberGenerator()
        return delay(retry: retry, using: &rng)
    }
}
