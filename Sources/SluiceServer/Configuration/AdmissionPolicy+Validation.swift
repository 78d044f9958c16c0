import SluiceCore

extension AdmissionPolicy {
    /// The problems of plans, tiers, modes and the calendar: limits out of range, a default plan or a
    /// calendar mode nobody defined, tier thresholds out of order.
    /// - Parameter workers: `queue.workers`, which `queue.reservedBypassWorkers` must stay under.
    public func validationProblems(workers: Int) -> [ConfigurationProblem] {
        var list = ProblemList()
        for name in plans.keys.sorted() {
            guard let plan = plans[name] else { continue }
            let path = "plans.\(name)"
            list.atLeast(path + ".tokensPerMinute", plan.tokensPerMinute, 0)
            list.atLeast(path + ".messagesPerDay", plan.messagesPerDay, 0)
            list.atLeast(path + ".tokensPerDay", plan.tokensPerDay, 0)
            list.atLeast(path + ".maxTokens", plan.maxTokens, 1)
            list.atLeast(path + ".maxPromptBytes", plan.maxPromptBytes, 1)
            list.atLeast(path + ".maxStreams", plan.maxStreams, 0)
            list.atLeast(path + ".maxRunning", plan.maxRunning, 1)
            if let days = plan.historyDays { list.notNegative(path + ".historyDays", days) }
            if let dollars = plan.spendPerMonthUSD { list.notNegative(path + ".spendPerMonthUSD", dollars) }
            list.atLeast(path + ".reconnectsPerMinute", plan.reconnectsPerMinute, 0)
        }
        if plans[defaultPlan] == nil {
            list.problems.append(.notOneOf("plans.default", defaultPlan, plans.keys.sorted()))
        }
        checkTiers(&list)
        for name in modes.keys.sorted() {
            guard let mode = modes[name] else { continue }
            let path = "modes.\(name)"
            // 0 is allowed: no requests from students while the mode holds.
            list.atLeast(path + ".requestsPerMinute", mode.requestsPerMinute, 0)
            list.atLeast(path + ".overloadAt", mode.overloadAt, 1)
            list.fraction(path + ".semanticThreshold", mode.semanticThreshold)
        }
        checkCalendarModes(Set(calendar.periods.map(\.mode)), key: "calendar.examMode", lines: "calendar.examPeriods", &list)
        checkCalendarModes(Set(calendar.hours.map(\.mode)), key: "calendar.peakMode", lines: "calendar.peakHours", &list)
        if let reserved = reservedBypassWorkers, workers >= 1, !(0..<workers).contains(reserved) {
            list.add("queue.reservedBypassWorkers", "must be from 0 to \(workers - 1) (fewer than queue.workers, \(workers)), not \(reserved)")
        }
        return list.problems
    }

    private func checkTiers(_ list: inout ProblemList) {
        list.atLeast("tiers.highAt", tiers.highAt, 0)
        if tiers.peakAt < tiers.highAt {
            list.add("tiers.peakAt", "must be at least tiers.highAt (\(tiers.highAt)), not \(tiers.peakAt)")
        }
        if tiers.overloadAt < tiers.peakAt {
            list.add("tiers.overloadAt", "must be at least tiers.peakAt (\(tiers.peakAt)), not \(tiers.overloadAt)")
        }
        list.atLeast("tiers.overloadRetryAfter", tiers.overloadRetryAfter, 0)
        list.atLeast("tiers.simpleMaxTokens", tiers.simpleMaxTokens, 1)
        for tier in Tier.allCases {
            list.fraction("tiers.\(tier.name).semanticThreshold", tiers.semanticThreshold[tier])
        }
    }

    /// A mode the calendar switches on must be one the configuration defines (the global calendar's,
    /// or a tenant's).
    /// - Parameters:
    ///   - names: the modes the calendar's lines switch on.
    ///   - key: the setting naming the mode (`calendar.examMode`), where a problem goes.
    ///   - lines: the setting holding the lines (`calendar.examPeriods`).
    ///   - list: where a problem goes.
    func checkCalendarModes(_ names: Set<String>, key: String, lines: String, _ list: inout ProblemList) {
        for name in names.sorted() where modes[name] == nil {
            let defined = modes.keys.sorted()
            list.add(key, defined.isEmpty
                ? "\(ConfigurationProblem.quoted(name)) is switched on by \(lines) but no modes are defined: add it to modes.names, with its section"
                : "\(ConfigurationProblem.quoted(name)) is switched on by \(lines) but is not one of the modes defined (\(defined.joined(separator: ", ")))")
        }
    }
}
