public import Configuration
public import Foundation
import SystemPackage

extension SluiceConfiguration {
    /// Loads the configuration the way `sluice serve` does: command-line flags win over `SLUICE_*`
    /// environment variables, which win over the YAML file, which wins over the defaults.
    /// - Parameters:
    ///   - configFile: a YAML file; nil reads `./sluice.yaml` when it exists.
    ///   - flags: values from the command line, by key (`server.port`, …).
    ///   - environment: the environment.
    public static func load(
        configFile: String?, flags: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> SluiceConfiguration {
        let reader = ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: flags),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["sluice"]),
            try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile ?? "sluice.yaml"), allowMissing: configFile == nil),
        ])
        return SluiceConfiguration(config: reader)
    }
}
