import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client left while it was being sent a stream of events. Clients may
/// half-close after sending a request and still wait for an ordinary answer, so the end of their input
/// is passed on as usual; but while an event stream is being written, it means the client is gone —
/// noticed now, not when a heartbeat fails to arrive — and the stream's subscription ends with it.
final class StreamDeparture: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Whether an event stream's head went out and its end has not.
    private var streaming = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head): streaming = head.headerFields[.contentType]?.hasPrefix("text/event-stream") ?? false
        case .end: streaming = false
        case .body: break
        }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if streaming, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
