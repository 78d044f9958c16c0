import NIOCore
import Synchronization

/// Caps connections: in all, and per client address. A connection past either cap is closed as it
/// arrives, so that thousands of stalled connections cannot take every descriptor from the clients
/// being served. One handler per connection, added to its pipeline; it counts the connection while it is open.
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    let maxConnections: Int
    let maxPerAddress: Int
    private let counts = Mutex(Counts())

    init(maxConnections: Int, maxPerAddress: Int) {
        self.maxConnections = max(1, maxConnections)
        self.maxPerAddress = max(1, maxPerAddress)
    }

    /// Counts a new connection from `address`; false (and nothing counted) when a cap is reached.
    func open(_ address: String) -> Bool {
        counts.withLock { counts in
            guard counts.total < maxConnections, counts.byAddress[address, default: 0] < maxPerAddress else { return false }
            counts.total += 1
            counts.byAddress[address, default: 0] += 1
            return true
        }
    }

    /// A counted connection closed.
    func close(_ address: String) {
        counts.withLock { counts in
            counts.total -= 1
            counts.byAddress[address, default: 1] -= 1
            if counts.byAddress[address] == 0 { counts.byAddress[address] = nil }
        }
    }

    /// Connections open now.
    var open: Int { counts.withLock { $0.total } }

    /// The handler for one new connection.
    func handler() -> Handler { Handler(limiter: self) }

    /// Counts its connection from the moment it joins the pipeline until the connection closes; closes a
    /// connection past a cap at once.
    final class Handler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
        typealias InboundIn = NIOAny
        let limiter: ConnectionLimiter
        var counted: String?

        init(limiter: ConnectionLimiter) { self.limiter = limiter }

        func handlerAdded(context: ChannelHandlerContext) {
            let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
            if limiter.open(address) {
                counted = address
            } else {
                context.close(promise: nil)
            }
        }

        func handlerRemoved(context: ChannelHandlerContext) { release() }

        func channelInactive(context: ChannelHandlerContext) {
            release()
            context.fireChannelInactive()
        }

        private func release() {
            if let address = counted {
                counted = nil
                limiter.close(address)
            }
        }
    }
}
