import Foundation
import SluiceCore

/// An OpenAI chat request as Anthropic's Messages API body. Mapped: system and developer messages to
/// the cached system prefix; text and image parts (base64 data URLs and http URLs) to blocks; an
/// assistant's `tool_calls` to `tool_use` blocks and tool messages to `tool_result` blocks; `tools`,
/// `tool_choice` and `parallel_tool_calls`; `stop` to `stop_sequences`; `response_format` — a JSON
/// schema through one forced tool whose input is the answer, JSON mode through a system instruction.
/// Anything else is refused by name (`unsupported`), never dropped.
struct AnthropicMapping {
    /// The `max_tokens` sent when the request sets none (Anthropic requires one).
    static let defaultMaxTokens = 1024
    /// The system instruction that stands for OpenAI's JSON mode.
    static let jsonModeInstruction = "Answer with one valid JSON object and nothing else: no prose, no code fences."

    /// Fields that map, or that only concern OpenAI's own bookkeeping (`metadata`, `store`) and never the answer.
    static let mapped: Set<String> = ["tools", "tool_choice", "parallel_tool_calls", "stop", "response_format", "metadata", "store"]

    /// The failure to express a request.
    struct Unsupported: Error {
        var field: String
        var reason: String
    }

    let request: ChatRequest

    /// The first field Anthropic cannot express, with why.
    func unsupported() -> Unsupported? {
        do {
            _ = try body(model: "check", stream: false)
            return nil
        } catch let error as Unsupported {
            return error
        } catch {
            return Unsupported(field: "messages", reason: "it could not be mapped")
        }
    }

    /// The name of the tool whose input is a JSON-schema answer, when `response_format` asks for one.
    var schemaTool: String? {
        guard request.extra["response_format"]?["type"]?.string == "json_schema" else { return nil }
        return request.extra["response_format"]?["json_schema"]?["name"]?.string ?? "json_answer"
    }

    func body(model: String, stream: Bool) throws -> JSONValue {
        for field in request.extra.keys.sorted() where !Self.mapped.contains(field) {
            if field == "logprobs", request.extra[field] == .bool(false) { continue }
            throw Unsupported(field: field, reason: "Anthropic's Messages API has no equivalent")
        }
        if let n = request.n, n != 1 { throw Unsupported(field: "n", reason: "Anthropic answers with one choice") }
        if let temperature = request.temperature, temperature > 1 {
            throw Unsupported(field: "temperature", reason: "Anthropic accepts 0 to 1")
        }
        var body: [String: JSONValue] = [
            "model": .string(model),
            "max_tokens": .int(Int64(request.tokenCap ?? Self.defaultMaxTokens)),
            "stream": .bool(stream),
        ]
        var system = try systemText()
        if request.extra["response_format"]?["type"]?.string == "json_object" {
            system += (system.isEmpty ? "" : "\n\n") + Self.jsonModeInstruction
        }
        if !system.isEmpty {
            body["system"] = .array([.object(["type": "text", "text": .string(system), "cache_control": .object(["type": "ephemeral"])])])
        }
        body["messages"] = .array(try turns())
        if let temperature = request.temperature { body["temperature"] = .double(temperature) }
        if let topP = request.topP { body["top_p"] = .double(topP) }
        if let stop = request.extra["stop"], stop != .null {
            body["stop_sequences"] = stop.string.map { .array([.string($0)]) } ?? stop
        }
        var tools = try tools()
        var choice = try toolChoice()
        if let schemaTool {
            guard tools.isEmpty else { throw Unsupported(field: "response_format", reason: "Anthropic cannot force a JSON schema while offering tools") }
            let schema = request.extra["response_format"]?["json_schema"]?["schema"] ?? .object(["type": "object"])
            tools = [.object(["name": .string(schemaTool), "description": "The answer, in the required JSON shape.", "input_schema": schema])]
            choice = .object(["type": "tool", "name": .string(schemaTool)])
        }
        if !tools.isEmpty { body["tools"] = .array(tools) }
        if request.extra["parallel_tool_calls"] == .bool(false) {
            var object = choice?.object ?? ["type": "auto"]
            object["disable_parallel_tool_use"] = .bool(true)
            choice = .object(object)
        }
        if let choice { body["tool_choice"] = choice }
        return .object(body)
    }

    func systemText() throws -> String {
        var texts: [String] = []
        for (index, message) in request.messages.enumerated() where message.role == "system" || message.role == "developer" {
            if !message.mediaParts.isEmpty { throw Unsupported(field: "messages[\(index)].content", reason: "a system message holds text only") }
            texts.append(message.content)
        }
        return texts.joined(separator: "\n\n")
    }

    /// User and assistant turns, alternating: consecutive messages of one role are joined, tool results go
    /// in the user turn that follows the call.
    func turns() throws -> [JSONValue] {
        var turns: [(role: String, blocks: [JSONValue])] = []
        for (index, message) in request.messages.enumerated() where message.role != "system" && message.role != "developer" {
            let role = message.role == "assistant" ? "assistant" : "user"
            let blocks = try blocks(of: message, at: index)
            guard !blocks.isEmpty else { continue }
            if let last = turns.last, last.role == role {
                turns[turns.count - 1].blocks += blocks
            } else {
                turns.append((role, blocks))
            }
        }
        return turns.map { .object(["role": .string($0.role), "content": .array($0.blocks)]) }
    }

    func blocks(of message: ChatMessage, at index: Int) throws -> [JSONValue] {
        if message.role == "tool" {
            guard let id = message.extra["tool_call_id"]?.string else {
                throw Unsupported(field: "messages[\(index)].tool_call_id", reason: "a tool message needs the id of the call it answers")
            }
            return [.object(["type": "tool_result", "tool_use_id": .string(id), "content": .string(message.content)])]
        }
        var blocks: [JSONValue] = []
        switch message.body {
        case .text(let text):
            if !text.isEmpty { blocks.append(.object(["type": "text", "text": .string(text)])) }
        case .parts(let parts):
            for (position, part) in parts.enumerated() {
                blocks.append(try block(part, field: "messages[\(index)].content[\(position)]"))
            }
        case .none:
            break
        }
        for (field, value) in message.extra.sorted(by: { $0.key < $1.key }) where value != .null {
            switch field {
            case "tool_calls":
                for (position, call) in (value.array ?? []).enumerated() {
                    blocks.append(try toolUse(call, field: "messages[\(index)].tool_calls[\(position)]"))
                }
            case "refusal":
                continue
            default:
                throw Unsupported(field: "messages[\(index)].\(field)", reason: "Anthropic's Messages API has no equivalent")
            }
        }
        return blocks
    }

    func block(_ part: JSONValue, field: String) throws -> JSONValue {
        switch part["type"]?.string {
        case "text":
            return .object(["type": "text", "text": part["text"] ?? .string("")])
        case "image_url":
            let url = part["image_url"]?["url"]?.string ?? part["image_url"]?.string ?? ""
            if url.hasPrefix("data:") {
                // data:image/png;base64,AAAA
                let header = url.dropFirst(5).prefix { $0 != "," }
                let data = url.drop { $0 != "," }.dropFirst()
                guard header.hasSuffix(";base64") else { throw Unsupported(field: field, reason: "an image data URL must be base64") }
                let mediaType = String(header.dropLast(7))
                return .object(["type": "image", "source": .object(["type": "base64", "media_type": .string(mediaType), "data": .string(String(data))])])
            }
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else { throw Unsupported(field: field, reason: "an image must be a data URL or an http(s) URL") }
            return .object(["type": "image", "source": .object(["type": "url", "url": .string(url)])])
        default:
            throw Unsupported(field: field, reason: "Anthropic takes text and image parts only")
        }
    }

    func toolUse(_ call: JSONValue, field: String) throws -> JSONValue {
        guard call["type"]?.string ?? "function" == "function", let name = call["function"]?["name"]?.string, let id = call["id"]?.string else {
            throw Unsupported(field: field, reason: "a tool call needs an id, a type of function and a name")
        }
        let text = call["function"]?["arguments"]?.string ?? "{}"
        guard let input = try? JSONDecoder().decode(JSONValue.self, from: Data((text.isEmpty ? "{}" : text).utf8)), input.object != nil else {
            throw Unsupported(field: field + ".function.arguments", reason: "Anthropic needs the arguments as a JSON object")
        }
        return .object(["type": "tool_use", "id": .string(id), "name": .string(name), "input": input])
    }

    func tools() throws -> [JSONValue] {
        guard let tools = request.extra["tools"], tools != .null else { return [] }
        return try (tools.array ?? []).enumerated().map { position, tool in
            guard tool["type"]?.string == "function", let function = tool["function"], let name = function["name"]?.string else {
                throw Unsupported(field: "tools[\(position)]", reason: "Anthropic takes function tools only")
            }
            var object: [String: JSONValue] = ["name": .string(name), "input_schema": function["parameters"] ?? .object(["type": "object", "properties": .object([:])])]
            if let description = function["description"], description != .null { object["description"] = description }
            return .object(object)
        }
    }

    func toolChoice() throws -> JSONValue? {
        guard let choice = request.extra["tool_choice"], choice != .null else { return nil }
        switch choice.string {
        case "auto": return .object(["type": "auto"])
        case "none": return .object(["type": "none"])
        case "required": return .object(["type": "any"])
        case nil:
            if choice["type"]?.string == "function", let name = choice["function"]?["name"]?.string {
                return .object(["type": "tool", "name": .string(name)])
            }
            throw Unsupported(field: "tool_choice", reason: "it must be auto, none, required or one function")
        default:
            throw Unsupported(field: "tool_choice", reason: "it must be auto, none, required or one function")
        }
    }
}
