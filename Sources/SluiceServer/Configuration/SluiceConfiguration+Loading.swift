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
    /// - Throws: `ConfigurationError` with every problem `check` finds (a missing file included).
    public static func load(
        configFile: String?, flags: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> SluiceConfiguration {
        let result = await Self.check(configFile: configFile, flags: flags, environment: environment)
        guard result.isValid else { throw ConfigurationError(problems: result.problems) }
        return result.configuration
    }

    /// Reads the configuration as `load` does and finds every problem in it: a file that is missing or
    /// not YAML, values of the wrong type, unknown choices, malformed calendar lines, numbers out of
    /// range, references to deployments or modes nobody defined, and keys of the file Sluice never
    /// reads. Unknown names are looked for in the file only, not among environment variables.
    /// - Parameters:
    ///   - configFile: a YAML file; nil reads `./sluice.yaml` when it exists.
    ///   - flags: values from the command line, by key.
    ///   - environment: the environment.
    public static func check(
        configFile: String?, flags: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> ConfigurationCheck {
        var problems: [ConfigurationProblem] = []
        let path = configFile ?? "sluice.yaml"
        let fileKeys = FileKeyLog()
        var file: FileProvider<YAMLSnapshot>?
        if configFile != nil, !FileManager.default.fileExists(atPath: path) {
            problems.append(ConfigurationProblem(path, "there is no such file"))
        } else {
            do {
                // The parser asks, for every value's key, whether it is a secret: that is how the file's keys are listed.
                let options = YAMLSnapshot.ParsingOptions(secretsSpecifier: .dynamic { key, _ in
                    fileKeys.add(key)
                    return false
                })
                file = try await FileProvider<YAMLSnapshot>(parsingOptions: options, filePath: FilePath(path), allowMissing: configFile == nil)
            } catch {
                problems.append(ConfigurationProblem(path, "cannot be read as YAML settings: \(error)"))
            }
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: flags),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["sluice"]),
        ]
        if let file { providers.append(file) }
        let log = ConfigurationReadLog()
        let configuration = SluiceConfiguration(
            config: ConfigReader(providers: providers, accessReporter: log), environment: environment, problems: &problems)
        problems += log.problems
        problems += configuration.validationProblems()
        if let file {
            problems += UnknownConfigurationKeys.problems(fileKeys: fileKeys.all, readKeys: log.keys) { key in
                Self.isEmptyValue(in: file, at: key)
            }
        }
        var seen: Set<ConfigurationProblem> = []
        problems = problems.filter { seen.insert($0).inserted }
        let read = file != nil && FileManager.default.fileExists(atPath: path) ? path : nil
        return ConfigurationCheck(configuration: configuration, problems: problems, file: read)
    }

    /// Whether the file's value at a key is empty: nothing, `~`, `null` or `[]`.
    private static func isEmptyValue(in file: FileProvider<YAMLSnapshot>, at key: String) -> Bool {
        let absolute = AbsoluteConfigKey(key.split(separator: ".", omittingEmptySubsequences: false).map(String.init))
        if let value = (try? file.value(forKey: absolute, type: .string))?.value, case .string(let text) = value.content {
            return ["", "~", "null"].contains(text.lowercased())
        }
        if let value = (try? file.value(forKey: absolute, type: .stringArray))?.value, case .stringArray(let list) = value.content {
            return list.isEmpty
        }
        return false
    }
}
