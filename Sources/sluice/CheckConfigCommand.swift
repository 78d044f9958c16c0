import ArgumentParser
import SluiceServer

/// `sluice check-config`: reads the configuration as `sluice serve` would and says what is wrong with
/// it, or, when nothing is, every setting in force (secrets shown only as `<set>`).
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the configuration as `sluice serve` reads it, and print the settings in force.",
        discussion: """
            Reads the YAML file (default: ./sluice.yaml when it exists) and the SLUICE_* environment variables. \
            Prints every problem, one a line, and exits with 1; when there is none, prints every setting \
            (API keys and passwords only as <set>) and exits with 0.
            """)

    @Option(help: "A YAML configuration file (default: ./sluice.yaml when it exists).")
    var config: String?

    func run() async throws {
        let check = await SluiceConfiguration.check(configFile: config)
        let source = check.file ?? "no configuration file (defaults and SLUICE_* environment variables)"
        guard check.isValid else {
            print("\(source): \(ConfigurationError(problems: check.problems))")
            throw ExitCode.failure
        }
        print("\(source): the configuration is valid. Settings in force:")
        for setting in check.configuration.effectiveSettings {
            print("  \(setting.key): \(setting.value)")
        }
    }
}
