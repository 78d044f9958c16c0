import Foundation

extension LoadReport {
    /// The timeline as an SVG picture: answers per second above, latency (time to first token and
    /// whole answer, p50 and p99 of the answers completed in each second) below.
    public var svg: String {
        let seconds = timeline
        let width = 900.0
        let panel = 220.0
        let left = 70.0
        let plotWidth = width - left - 20
        func x(_ second: Int) -> Double { left + plotWidth * Double(second) / Double(max(1, seconds.count - 1)) }
        func line(_ values: [Double], top: Double, maximum: Double, color: String, dashed: Bool = false, onlyWithAnswers: Bool = true) -> String {
            let points = values.enumerated().filter { !onlyWithAnswers || seconds[$0.offset].answers > 0 }.map { index, value in
                String(format: "%.1f,%.1f", x(index), top + panel - panel * min(value, maximum) / max(maximum, 0.001))
            }
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(dashed ? " stroke-dasharray=\"4 3\"" : "") points=\"\(points.joined(separator: " "))\"/>"
        }
        func axes(top: Double, maximum: Double, unit: String, title: String) -> String {
            var parts = [
                "<text x=\"\(left)\" y=\"\(top - 8)\" font-size=\"13\" font-weight=\"bold\">\(title)</text>",
                "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + panel)\" stroke=\"#888\"/>",
                "<line x1=\"\(left)\" y1=\"\(top + panel)\" x2=\"\(left + plotWidth)\" y2=\"\(top + panel)\" stroke=\"#888\"/>",
            ]
            for step in 0...4 {
                let value = maximum * Double(step) / 4
                let y = top + panel - panel * Double(step) / 4
                parts.append(String(format: "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.0f %@</text>", left - 6, y + 4, value, unit))
                parts.append(String(format: "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>", left, y, left + plotWidth, y))
            }
            return parts.joined(separator: "\n")
        }
        let answers = seconds.map { Double($0.answers) }
        let latencies = [seconds.map(\.ttftP50), seconds.map(\.ttftP99), seconds.map(\.totalP50), seconds.map(\.totalP99)]
        let answerMax = max(1, (answers.max() ?? 1) * 1.1)
        let latencyMax = max(1, (latencies.joined().max() ?? 1) * 1.1)
        let latencyTop = panel + 90
        let height = latencyTop + panel + 70
        let legend = [("#1f77b4", "time to first token p50", false), ("#1f77b4", "p99", true), ("#d62728", "whole answer p50", false), ("#d62728", "p99", true)]
        var legendParts: [String] = []
        var legendX = left
        for (color, name, dashed) in legend {
            legendParts.append("<line x1=\"\(legendX)\" y1=\"\(height - 18)\" x2=\"\(legendX + 24)\" y2=\"\(height - 18)\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"4 3\"" : "")/>")
            legendParts.append("<text x=\"\(legendX + 30)\" y=\"\(height - 14)\" font-size=\"11\">\(name)</text>")
            legendX += 60 + Double(name.count) * 6
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            \(axes(top: 30, maximum: answerMax, unit: "/s", title: "Answers per second (\(completed) in \(Int(self.seconds)) s)"))
            \(line(answers, top: 30, maximum: answerMax, color: "#2ca02c", onlyWithAnswers: false))
            \(axes(top: latencyTop, maximum: latencyMax, unit: "ms", title: "Latency of the answers completed each second"))
            \(line(latencies[0], top: latencyTop, maximum: latencyMax, color: "#1f77b4"))
            \(line(latencies[1], top: latencyTop, maximum: latencyMax, color: "#1f77b4", dashed: true))
            \(line(latencies[2], top: latencyTop, maximum: latencyMax, color: "#d62728"))
            \(line(latencies[3], top: latencyTop, maximum: latencyMax, color: "#d62728", dashed: true))
            <text x="\(left + plotWidth / 2)" y="\(latencyTop + panel + 28)" font-size="11" text-anchor="middle">seconds since the start</text>
            \(legendParts.joined(separator: "\n"))
            </svg>

            """
    }
}
