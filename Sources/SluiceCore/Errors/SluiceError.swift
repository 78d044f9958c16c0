import Foundation

/// An error Sluice reports to a caller, in OpenAI's shape. Its `description` never carries prompts or keys.
public struct SluiceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var code: Code
    /// Values for the message template (`{seconds}`, `{limit}`, …). Never secrets. A value meant for the
    /// Mongolian message only is named with `_mn` (`reason_mn`); without one, `{reason_mn}` shows `reason`.
    public var details: [String: String]
    /// Seconds after which a retry may succeed.
    public var retryAfter: Int?
    /// Extra response headers (`X-RateLimit-*`).
    public var headers: [String: String] = [:]

    /// - Parameters:
    ///   - code: what went wrong.
    ///   - details: values for the message.
    ///   - retryAfter: seconds until a retry may succeed.
    public init(_ code: Code, details: [String: String] = [:], retryAfter: Int? = nil) {
        self.code = code
        self.details = details
        self.retryAfter = retryAfter
    }

    public var description: String { "SluiceError(\(code.rawValue))" }

    /// The message in a language (`en` or `mn`).
    public func message(language: Language) -> String {
        var text = code.template(language)
        for (key, value) in details { text = text.replacingAll("{\(key)}", with: value) }
        for (key, value) in details where details[key + "_mn"] == nil {
            text = text.replacingAll("{\(key)_mn}", with: value)
        }
        return text
    }

    /// Stable error codes, each with its HTTP status, OpenAI error type and messages.
    public enum Code: String, Sendable, CaseIterable {
        case invalidJSON = "invalid_json"
        case invalidEncoding = "invalid_encoding"
        case unsupportedMediaType = "unsupported_media_type"
        case requestTooLarge = "request_too_large"
        case missingField = "missing_field"
        case invalidMessages = "invalid_messages"
        case invalidMaxTokens = "invalid_max_tokens"
        case invalidParameter = "invalid_parameter"
        case unsupportedParameter = "unsupported_parameter"
        case modelNotFound = "model_not_found"
        case jobNotFound = "job_not_found"
        /// A file, batch or callback delivery that does not exist or is not the caller's.
        case objectNotFound = "object_not_found"
        case invalidAPIKey = "invalid_api_key"
        case invalidToken = "invalid_token"
        case notFound = "not_found"
        case jobCancelled = "job_cancelled"
        case deadlineExceeded = "deadline_exceeded"
        case providerError = "provider_error"
        case upstreamRejected = "upstream_rejected"
        case streamInterrupted = "stream_interrupted"
        case shuttingDown = "shutting_down"
        case rateLimited = "rate_limited"
        case quotaExceeded = "quota_exceeded"
        case systemBusy = "system_busy"
        case promptTooLarge = "prompt_too_large"
        case tooManyStreams = "too_many_streams"
        case tooManyReconnects = "too_many_reconnects"
        case forbidden = "forbidden"
        case localOnly = "local_only"
        case storageUnavailable = "storage_unavailable"
        case storageFull = "storage_full"
        case storeUnavailable = "store_unavailable"
        case budgetExceeded = "budget_exceeded"
        case internalError = "internal_error"

        /// The HTTP status.
        public var status: Int {
            switch self {
            case .invalidJSON, .invalidEncoding, .missingField, .invalidMessages, .invalidMaxTokens, .invalidParameter, .unsupportedParameter, .upstreamRejected: 400
            case .invalidAPIKey, .invalidToken: 401
            case .forbidden, .localOnly: 403
            case .rateLimited, .quotaExceeded, .tooManyStreams, .tooManyReconnects, .budgetExceeded: 429
            case .promptTooLarge: 400
            case .systemBusy: 503
            case .modelNotFound, .jobNotFound, .objectNotFound, .notFound: 404
            case .jobCancelled: 409
            case .requestTooLarge: 413
            case .unsupportedMediaType: 415
            case .providerError, .streamInterrupted: 502
            case .shuttingDown, .storageUnavailable, .storeUnavailable: 503
            case .storageFull: 507
            case .deadlineExceeded: 504
            case .internalError: 500
            }
        }

        /// OpenAI's error `type`.
        public var type: String {
            switch status {
            case 401: "authentication_error"
            case 403: "permission_error"
            case 429: "rate_limit_error"
            case 404: "not_found_error"
            case 400, 409, 413, 415: "invalid_request_error"
            default: "server_error"
            }
        }

        func template(_ language: Language) -> String {
            switch language {
            case .en: english
            case .mn: mongolian
            }
        }

        var english: String {
            switch self {
            case .invalidJSON: "The request body is not valid JSON: {reason}."
            case .invalidEncoding: "The request body is not valid UTF-8."
            case .unsupportedMediaType: "Send the request body as application/json."
            case .requestTooLarge: "The request body is larger than the limit of {limit} bytes."
            case .missingField: "The field '{field}' is required."
            case .invalidMessages: "'messages' {reason}."
            case .invalidMaxTokens: "'max_tokens' must be between 1 and {limit}."
            case .invalidParameter: "The parameter '{field}' is invalid: {reason}."
            case .unsupportedParameter: "The parameter '{field}' cannot be sent to the model '{model}' ({deployment}): {reason}."
            case .modelNotFound: "The model '{model}' does not exist. Available models: {models}."
            case .jobNotFound: "No job with id '{id}' was found."
            case .objectNotFound: "No {object} with id '{id}' was found."
            case .invalidAPIKey: "Missing or invalid API key. Send it as 'Authorization: Bearer <key>'."
            case .invalidToken: "The token was refused: {reason}."
            case .notFound: "Nothing is served at this path."
            case .jobCancelled: "The job was cancelled before it finished."
            case .deadlineExceeded: "The request waited longer than {seconds} seconds in the queue and was dropped. Please try again."
            case .providerError: "The model provider failed to answer: {reason}."
            case .upstreamRejected: "The model provider rejected the request: {reason}."
            case .streamInterrupted: "The answer was interrupted and is incomplete: {reason}."
            case .shuttingDown: "The server is restarting. Please retry in a few seconds."
            case .rateLimited: "Too many requests. Please wait {seconds} seconds."
            case .quotaExceeded: "You have used today's limit of {limit}. It resets at {reset}."
            case .systemBusy: "The system is busy. Please wait a moment and try again in {seconds} seconds."
            case .promptTooLarge: "The prompt is larger than your plan's limit of {limit} bytes."
            case .tooManyStreams: "Too many open streams: at most {limit} at once. Close one and try again."
            case .tooManyReconnects: "Too many reconnects. Please wait {seconds} seconds."
            case .forbidden: "This is not allowed: {reason}."
            case .localOnly: "Without API keys, Sluice serves only callers on this machine (a loopback address and Host, no proxy in front). Configure API keys (auth.apiKeys or SLUICE_AUTH_API_KEYS) to serve others."
            case .storageUnavailable: "The server cannot save requests right now. Please retry in a second."
            case .storageFull: "The server's disk is full, so it cannot save requests. Please retry shortly."
            case .storeUnavailable: "The answer could not be saved yet. Resume this stream in a few seconds to get it."
            case .budgetExceeded: "This month's budget of {limit} US dollars is used up. It resets at {reset}."
            case .internalError: "An internal error occurred."
            }
        }

        var mongolian: String {
            switch self {
            case .invalidJSON: "Хүсэлтийн бие зөв JSON биш байна: {reason}."
            case .invalidEncoding: "Хүсэлтийн бие зөв UTF-8 биш байна."
            case .unsupportedMediaType: "Хүсэлтийн биеийг application/json хэлбэрээр илгээнэ үү."
            case .requestTooLarge: "Хүсэлтийн бие {limit} байтын хязгаараас их байна."
            case .missingField: "'{field}' талбар заавал байх ёстой."
            case .invalidMessages: "'messages' буруу байна: {reason}."
            case .invalidMaxTokens: "'max_tokens' нь 1-ээс {limit} хооронд байх ёстой."
            case .invalidParameter: "'{field}' параметр буруу байна: {reason_mn}."
            case .unsupportedParameter: "'{field}' параметрийг '{model}' загварт ({deployment}) илгээх боломжгүй: {reason}."
            case .modelNotFound: "'{model}' загвар олдсонгүй. Боломжит загварууд: {models}."
            case .jobNotFound: "'{id}' дугаартай ажил олдсонгүй."
            case .objectNotFound: "'{id}' дугаартай {object_mn} олдсонгүй."
            case .invalidAPIKey: "API түлхүүр алга эсвэл буруу байна. 'Authorization: Bearer <түлхүүр>' гэж илгээнэ үү."
            case .invalidToken: "Токеныг хүлээн авсангүй: {reason_mn}."
            case .notFound: "Энэ хаягаар юу ч үйлчилдэггүй."
            case .jobCancelled: "Ажил дуусахаасаа өмнө цуцлагдсан."
            case .deadlineExceeded: "Хүсэлт дараалалд {seconds} секундээс удаан хүлээсэн тул хасагдлаа. Дахин оролдоно уу."
            case .providerError: "Загварын үйлчилгээ хариулж чадсангүй: {reason}."
            case .upstreamRejected: "Загварын үйлчилгээ хүсэлтийг хүлээж авсангүй: {reason}."
            case .streamInterrupted: "Хариулт тасарсан тул бүрэн бус байна: {reason}."
            case .shuttingDown: "Сервер дахин асаж байна. Хэдэн секундийн дараа дахин оролдоно уу."
            case .rateLimited: "Хэт олон хүсэлт. {seconds} секунд хүлээнэ үү."
            case .quotaExceeded: "Өнөөдрийн {limit} хязгаарыг ашиглаж дууссан. {reset}-д шинэчлэгдэнэ."
            case .systemBusy: "Систем завгүй байна. Түр хүлээгээд {seconds} секундийн дараа дахин оролдоно уу."
            case .promptTooLarge: "Асуулт таны багцын {limit} байтын хязгаараас их байна."
            case .tooManyStreams: "Хэт олон урсгал нээлттэй байна: зэрэг {limit} хүртэл. Нэгийг хаагаад дахин оролдоно уу."
            case .tooManyReconnects: "Хэт олон дахин холболт. {seconds} секунд хүлээнэ үү."
            case .forbidden: "Үүнийг зөвшөөрөхгүй: {reason_mn}."
            case .localOnly: "API түлхүүргүй үед Sluice зөвхөн энэ компьютер дээрх дуудлагад үйлчилнэ (loopback хаяг ба Host, урд нь proxy байхгүй). Бусдад үйлчлэхийн тулд API түлхүүр тохируулна уу (auth.apiKeys эсвэл SLUICE_AUTH_API_KEYS)."
            case .storageUnavailable: "Сервер одоогоор хүсэлт хадгалж чадахгүй байна. Нэг секундын дараа дахин оролдоно уу."
            case .storageFull: "Серверийн диск дүүрсэн тул хүсэлт хадгалж чадахгүй байна. Удалгүй дахин оролдоно уу."
            case .storeUnavailable: "Хариултыг хараахан хадгалж чадаагүй байна. Хэдэн секундын дараа энэ урсгалыг үргэлжлүүлж авна уу."
            case .budgetExceeded: "Энэ сарын {limit} ам.долларын төсөв дууссан. {reset}-д шинэчлэгдэнэ."
            case .internalError: "Дотоод алдаа гарлаа."
            }
        }
    }
}

/// The languages Sluice speaks.
public enum Language: String, Sendable {
    case en, mn

    /// Picks a language from an `Accept-Language` header (`mn` when Mongolian is preferred, else English).
    public static func from(acceptLanguage header: String?) -> Language {
        guard let header else { return .en }
        var best: (Language, Double)? = nil
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";")
            let tag = pieces.first.map { $0.trimmingSpaces().lowercased() } ?? ""
            var q = 1.0
            for p in pieces.dropFirst() {
                let kv = p.trimmingSpaces()
                if kv.hasPrefix("q="), let v = Double(kv.dropFirst(2)) { q = v }
            }
            let lang: Language? = tag.hasPrefix("mn") ? .mn : (tag.hasPrefix("en") || tag == "*" ? .en : nil)
            if let lang, q > (best?.1 ?? 0) { best = (lang, q) }
        }
        return best?.0 ?? .en
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
