import Foundation
import SluiceCore
import SluiceServer
import SluiceTesting
import Testing

/// A configuration file holding `yaml`, checked the way `sluice serve` loads it, with only `environment`.
private func checkedConfiguration(_ yaml: String, environment: [String: String] = [:]) async throws -> ConfigurationCheck {
    let file = TemporaryDirectory.make() + "/sluice.yaml"
    try yaml.write(toFile: file, atomically: true, encoding: .utf8)
    return await SluiceConfiguration.check(configFile: file, environment: environment)
}

@Suite struct TenantConfigurationTests {
    static let twoSchools = """
        plans: {names: [free, paid]}
        modes: {names: [exam], exam: {requestsPerMinute: 3}}
        tenants:
          names: [school-a, school-b]
          school-a:
            apiKeysEnv: SCHOOL_A_KEYS
            adminKeysEnv: SCHOOL_A_ADMIN_KEYS
            roles: [student, teacher]
            plans: [free]
            ceilings: {requestsPerMinute: 600, runningJobs: 0, spendPerMonthUSD: 25.5}
            corsOrigins: ["https://app.school-a.example", "http://localhost:3000"]
            calendar: {timeZone: Asia/Ulaanbaatar, examPeriods: ["2026-12-14..2026-12-20"]}
          school-b:
            apiKeysEnv: SCHOOL_B_KEYS
            roles: [student, teacher, admin]
            defaultPlan: paid
        """

    static let twoSchoolsEnvironment = [
        "SCHOOL_A_KEYS": "sk-a-one, sk-a-two",
        "SCHOOL_A_ADMIN_KEYS": "adm-a-secret",
        "SCHOOL_B_KEYS": "sk-b-one",
        "SLUICE_AUTH_ADMIN_KEYS": "sk-operator-secret,school-b:adm-b-secret",
        "SLUICE_AUTH_API_KEYS": "school-c:sk-c-short-form",
    ]

    @Test func keysFromTheEnvironmentMapToTheirTenantsAdminsAndTheOperator() async throws {
        let check = try await checkedConfiguration(Self.twoSchools, environment: Self.twoSchoolsEnvironment)
        #expect(check.problems == [])
        let configuration = check.configuration
        #expect(configuration.tenants.map(\.name) == ["school-a", "school-b"])
        #expect(configuration.effectiveTenants.map(\.name) == ["school-a", "school-b", "school-c"])
        #expect(configuration.hasCredentials)
        let directory = configuration.tenantDirectory
        #expect(directory.holder(ofKey: "sk-a-one") == Credentials.Holder.app(tenant: "school-a"))
        #expect(directory.holder(ofKey: "sk-a-two") == Credentials.Holder.app(tenant: "school-a"))
        #expect(directory.holder(ofKey: "adm-a-secret") == Credentials.Holder.admin(tenant: "school-a"))
        #expect(directory.holder(ofKey: "sk-b-one") == Credentials.Holder.app(tenant: "school-b"))
        #expect(directory.holder(ofKey: "adm-b-secret") == Credentials.Holder.admin(tenant: "school-b"))
        #expect(directory.holder(ofKey: "sk-operator-secret") == Credentials.Holder.operator)
        #expect(directory.holder(ofKey: "sk-c-short-form") == Credentials.Holder.app(tenant: "school-c"))
        #expect(directory.holder(ofKey: "sk-unknown") == nil)
        #expect(directory.holder(ofKey: "") == nil)
        #expect(directory.holder(ofKey: " sk-a-one") == nil)
        #expect(directory.credentials.count == 7)
        #expect(directory.credentials.holder(ofDigest: Credentials.digest("sk-b-one")) == Credentials.Holder.app(tenant: "school-b"))
        #expect(Credentials.Holder.operator.tenant == nil && Credentials.Holder.operator.isAdmin)
        #expect(Credentials.Holder.admin(tenant: "school-a").tenant == "school-a")
        #expect(!Credentials.Holder.app(tenant: "school-a").isAdmin)
    }

    @Test func eachTenantHasItsPolicyAndAnyOtherTheDefaults() async throws {
        let check = try await checkedConfiguration(Self.twoSchools, environment: Self.twoSchoolsEnvironment)
        #expect(check.problems == [])
        let directory = check.configuration.tenantDirectory

        let a = directory.policy(for: "school-a")
        #expect(a.name == "school-a")
        #expect(a.roles == ["student", "teacher"])
        #expect(a.plans == ["free"])
        #expect(a.defaultPlan == "free")
        #expect(a.ceilings == TenantPolicy.Ceilings(requestsPerMinute: 600, runningJobs: 0, spendPerMonthUSD: 25.5))
        #expect(a.ceilings.tokensPerDay == nil)
        #expect(a.allowsOrigin("https://app.school-a.example"))
        #expect(a.allowsOrigin("HTTPS://APP.SCHOOL-A.EXAMPLE"))
        #expect(a.allowsOrigin("http://localhost:3000"))
        #expect(!a.allowsOrigin("https://evil.example"))
        #expect(!a.allowsOrigin("http://localhost:3001"))
        #expect(a.calendar?.timeZone.identifier == "Asia/Ulaanbaatar")
        #expect(a.calendar?.periods == [SchoolCalendar.Period(first: "2026-12-14", last: "2026-12-20", mode: "exam")])

        let b = directory.policy(for: "school-b")
        #expect(b.roles == ["student", "teacher", "admin"])
        #expect(b.plans == ["free", "paid"])
        #expect(b.defaultPlan == "paid")
        #expect(b.ceilings.isEmpty)
        #expect(b.corsOrigins.isEmpty && !b.allowsOrigin("https://app.school-a.example"))
        #expect(b.calendar == nil)

        // Named by a key only, and not named at all: the defaults.
        for name in ["school-c", "somebody-else"] {
            let policy = directory.policy(for: name)
            #expect(policy.name == name)
            #expect(policy.roles == ["student", "teacher"])
            #expect(policy.plans == ["free", "paid"])
            #expect(policy.defaultPlan == "free")
            #expect(policy.ceilings.isEmpty && policy.corsOrigins.isEmpty && policy.calendar == nil)
        }
    }

    @Test func theSettingsInForceCountKeysAndNeverShowThem() async throws {
        var environment = Self.twoSchoolsEnvironment
        environment["JWT_SECRET"] = "an-hs256-secret-of-more-than-32-bytes-xyz"
        let check = try await checkedConfiguration(
            Self.twoSchools + "\nauth: {jwt: {secretEnv: JWT_SECRET, issuer: \"https://idp.example\", tenantClaim: org}}\n", environment: environment)
        #expect(check.problems == [])
        let settings = Dictionary(check.configuration.effectiveSettings.map { ($0.key, $0.value) }) { $1 }
        #expect(settings["auth.apiKeys"] == "<set> (1)")
        #expect(settings["auth.adminKeys"] == "<set> (2: 1 operator, 1 of tenants)")
        #expect(settings["auth.jwt.secretEnv"] == "JWT_SECRET (<set>)")
        #expect(settings["auth.jwt.tenantClaim"] == "org")
        #expect(settings["auth.jwt.leewaySeconds"] == "30")
        #expect(settings["tenants.names"] == "[school-a, school-b] (and, named by keys only, with the defaults: school-c)")
        #expect(settings["tenants.school-a.apiKeysEnv"] == "SCHOOL_A_KEYS (<set> (2))")
        #expect(settings["tenants.school-a.adminKeysEnv"] == "SCHOOL_A_ADMIN_KEYS (<set> (1))")
        #expect(settings["tenants.school-a.ceilings.runningJobs"] == "0 (none allowed)")
        #expect(settings["tenants.school-a.ceilings.tokensPerDay"] == "no ceiling")
        #expect(settings["tenants.school-b.plans"] == "[free, paid] (every plan)")
        #expect(settings["tenants.school-b.corsOrigins"] == "[] (no cross-origin access)")
        #expect(settings["tenants.school-b.calendar"] == "<the global calendar>")
        #expect(settings["tenants.school-c.defaultPlan"] == "free")
        let all = check.configuration.effectiveSettings.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        for secret in Self.twoSchoolsEnvironment.values.flatMap({ $0.split(separator: ",") }) {
            let key = secret.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            #expect(!key.isEmpty && !all.contains(key), "\(key)")
        }
        #expect(!all.contains("an-hs256-secret"))
    }

    @Test func keysOfAnyKindLetSluiceListenBeyondLoopback() async throws {
        let beyond = "server: {host: 0.0.0.0}\n"
        let none = try await checkedConfiguration(beyond)
        #expect(none.problems.map(\.keyPath) == ["server.host"])
        let admin = try await checkedConfiguration(beyond, environment: ["SLUICE_AUTH_ADMIN_KEYS": "sk-operator"])
        #expect(admin.problems == [])
        let tenant = try await checkedConfiguration(
            beyond + "tenants: {names: [a], a: {apiKeysEnv: A_KEYS}}\n", environment: ["A_KEYS": "sk-a"])
        #expect(tenant.problems == [])
        let jwt = try await checkedConfiguration(
            beyond + "auth: {jwt: {jwksURL: \"https://idp.example/.well-known/jwks.json\"}}\n")
        #expect(jwt.problems == [])
        #expect(jwt.configuration.auth.jwt.fixedTenant == "default")
    }

    @Test func aJWKSFileMustBeAJSONKeySet() async throws {
        let folder = TemporaryDirectory.make()
        let cases: [(text: String, says: String?)] = [
            ("not json at all", "is not JSON"),
            (#"{"kty": "RSA"}"#, "is not a JSON Web Key Set"),
            (#"{"keys": []}"#, "holds no keys"),
            (#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#, nil),
        ]
        for (index, item) in cases.enumerated() {
            let path = folder + "/jwks-\(index).json"
            try item.text.write(toFile: path, atomically: true, encoding: .utf8)
            let check = try await checkedConfiguration("auth: {jwt: {jwksFile: \"\(path)\"}}\n")
            if let says = item.says {
                #expect(check.problems.map(\.keyPath) == ["auth.jwt.jwksFile"], "\(check.problems)")
                #expect(check.problems.first?.message.contains(says) == true, "\(check.problems)")
                #expect(check.problems.first?.message.contains(path) == true, "\(check.problems)")
            } else {
                #expect(check.problems == [])
                #expect(check.configuration.auth.jwt.isConfigured)
            }
        }
    }

    @Test func theDigestIsSHA256InLowercaseHex() {
        #expect(Credentials.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

/// One mistake in the configuration of who may call, with the environment it needs, where it must be
/// reported, words the report must contain, and a secret it must not show.
struct AuthConfigurationMistake: Sendable, CustomTestStringConvertible {
    var yaml: String
    var environment: [String: String] = [:]
    var keyPath: String
    var says: String
    var testDescription: String { "\(keyPath): \(yaml) \(environment.keys.sorted())" }
}

@Suite struct TenantValidationTests {
    static let longSecret = String(repeating: "s", count: 40)

    static let mistakes: [AuthConfigurationMistake] = [
        // Tenants: roles, plans, ceilings, origins, calendars.
        .init(yaml: "tenants: {names: [a], a: {roles: [student, principal]}}", keyPath: "tenants.a.roles",
              says: #""principal" is not one of student, teacher, admin"#),
        .init(yaml: "plans: {names: [free]}\ntenants: {names: [a], a: {plans: [free, gold]}}", keyPath: "tenants.a.plans",
              says: #""gold" is not one of free"#),
        .init(yaml: "tenants: {names: [a], a: {defaultPlan: gold}}", keyPath: "tenants.a.defaultPlan", says: #""gold" is not one of free"#),
        .init(yaml: "plans: {names: [free, paid]}\ntenants: {names: [a], a: {plans: [free], defaultPlan: paid}}",
              keyPath: "tenants.a.defaultPlan", says: #""paid" is not one of tenants.a.plans (free)"#),
        .init(yaml: "plans: {names: [free, paid]}\ntenants: {names: [a], a: {plans: [paid]}}", keyPath: "tenants.a.defaultPlan",
              says: #"is needed: the default plan "free" (plans.default) is not one of tenants.a.plans (paid)"#),
        .init(yaml: "tenants: {names: [a], a: {ceilings: {runningJobs: -1}}}", keyPath: "tenants.a.ceilings.runningJobs",
              says: "must be 0 (none allowed) or more, not -1"),
        .init(yaml: "tenants: {names: [a], a: {ceilings: {requestsPerMinute: -60}}}", keyPath: "tenants.a.ceilings.requestsPerMinute",
              says: "must be 0 (none allowed) or more, not -60"),
        .init(yaml: "tenants: {names: [a], a: {ceilings: {spendPerMonthUSD: -5}}}", keyPath: "tenants.a.ceilings.spendPerMonthUSD",
              says: "must be 0 or more, not -5"),
        .init(yaml: #"tenants: {names: [a], a: {corsOrigins: ["https://app.example.com/"]}}"#, keyPath: "tenants.a.corsOrigins",
              says: #"ends with "/": an origin has no path; write "https://app.example.com""#),
        .init(yaml: "tenants: {names: [a], a: {corsOrigins: [app.example.com]}}", keyPath: "tenants.a.corsOrigins",
              says: #""app.example.com" is not an origin: write scheme://host[:port]"#),
        .init(yaml: #"tenants: {names: [a], a: {corsOrigins: ["https://app.example.com/login?x=1"]}}"#, keyPath: "tenants.a.corsOrigins",
              says: "has more than scheme://host[:port]"),
        .init(yaml: #"tenants: {names: [a], a: {calendar: {examPeriods: ["2026-12-14"]}}}"#, keyPath: "tenants.a.calendar.examMode",
              says: #""exam" is switched on by tenants.a.calendar.examPeriods but no modes are defined"#),
        .init(yaml: #"tenants: {names: [a], a: {calendar: {peakHours: ["mon-fry 18:00-22:00"]}}}"#, keyPath: "tenants.a.calendar.peakHours",
              says: #"has "fry", which is not a day"#),
        .init(yaml: "tenants: {names: [a], a: {calendar: {timeZone: Mars/Olympus}}}", keyPath: "tenants.a.calendar.timeZone",
              says: #""Mars/Olympus" is not a time zone"#),
        .init(yaml: #"tenants: {names: ["a.b"]}"#, keyPath: "tenants.names", says: "may hold only letters, digits, - and _"),
        // Keys: variables named but empty, malformed entries, one key for two holders.
        .init(yaml: "tenants: {names: [a], a: {apiKeysEnv: SCHOOL_A_KEYS}}", keyPath: "tenants.a.apiKeysEnv",
              says: "names SCHOOL_A_KEYS, which is not set in the environment or holds no keys"),
        .init(yaml: "tenants: {names: [a], a: {apiKeysEnv: SCHOOL_A_KEYS}}", environment: ["SCHOOL_A_KEYS": " , "],
              keyPath: "tenants.a.apiKeysEnv", says: "names SCHOOL_A_KEYS, which is not set in the environment or holds no keys"),
        .init(yaml: "tenants: {names: [a], a: {adminKeysEnv: SCHOOL_A_ADMIN}}", environment: ["SCHOOL_A_ADMIN": ""],
              keyPath: "tenants.a.adminKeysEnv", says: "names SCHOOL_A_ADMIN, which is not set"),
        .init(yaml: "server: {port: 8080}", environment: ["SLUICE_AUTH_ADMIN_KEYS": "school-a:"], keyPath: "auth.adminKeys",
              says: #"entry 1 must be "tenant:key" or a bare key, with neither part empty"#),
        .init(yaml: "server: {port: 8080}", environment: ["SLUICE_AUTH_ADMIN_KEYS": "sk-operator,:sk-nobody"], keyPath: "auth.adminKeys",
              says: "entry 2 must be"),
        .init(yaml: "tenants: {names: [a, b], a: {apiKeysEnv: A_KEYS}, b: {apiKeysEnv: B_KEYS}}",
              environment: ["A_KEYS": "sk-one,sk-shared", "B_KEYS": "sk-shared"], keyPath: "tenants.b.apiKeysEnv",
              says: #"entry 1 of B_KEYS is an app key of tenant "b", but the same key is already an app key of tenant "a" (tenants.a.apiKeysEnv, entry 2 of A_KEYS)"#),
        .init(yaml: "server: {port: 8080}", environment: ["SLUICE_AUTH_API_KEYS": "a:sk-shared", "SLUICE_AUTH_ADMIN_KEYS": "a:sk-shared"],
              keyPath: "auth.adminKeys", says: #"is an admin key of tenant "a", but the same key is already an app key of tenant "a" (auth.apiKeys, entry 1)"#),
        .init(yaml: "tenants: {names: [a], a: {adminKeysEnv: A_ADMIN}}", environment: ["A_ADMIN": "sk-shared", "SLUICE_AUTH_ADMIN_KEYS": "sk-shared"],
              keyPath: "tenants.a.adminKeysEnv", says: "is an admin key of tenant \"a\", but the same key is already an operator key"),
        // Unknown keys under a tenant.
        .init(yaml: "tenants: {names: [a], a: {rols: [student]}}", keyPath: "tenants.a.rols", says: "did you mean roles?"),
        .init(yaml: "tenants: {names: [a], a: {ceilings: {requestPerMinute: 5}}}", keyPath: "tenants.a.ceilings.requestPerMinute",
              says: "did you mean requestsPerMinute?"),
        .init(yaml: "tenants: {names: [a], b: {roles: [student]}}", keyPath: "tenants.b", says: "is not named in tenants.names"),
        .init(yaml: "auth: {jwt: {jwksURL: \"https://idp.example/jwks.json\", audiance: x}}", keyPath: "auth.jwt.audiance",
              says: "did you mean audience?"),
        // Trusted proxies.
        .init(yaml: #"server: {trustedProxies: ["10.0.0.0/33"]}"#, keyPath: "server.trustedProxies",
              says: #""10.0.0.0/33" has the prefix length "33", which is not a number from 0 to 32"#),
        .init(yaml: #"server: {trustedProxies: ["10.0.0.0/8", "10.0.0/8"]}"#, keyPath: "server.trustedProxies",
              says: #""10.0.0/8" has "10.0.0", which is not an IPv4 or IPv6 address"#),
        .init(yaml: #"server: {trustedProxies: ["fd00::/129"]}"#, keyPath: "server.trustedProxies", says: "from 0 to 128"),
        .init(yaml: #"server: {trustedProxies: ["proxy.internal"]}"#, keyPath: "server.trustedProxies", says: "is not an IPv4 or IPv6 address"),
        .init(yaml: "server: {port: 8080}", environment: ["SLUICE_SERVER_TRUSTED_PROXIES": "10.0.0.0/8,/16"], keyPath: "server.trustedProxies",
              says: #""/16" has no address"#),
        // End-user tokens.
        .init(yaml: #"auth: {jwt: {jwksURL: "ftp://idp.example/jwks.json"}}"#, keyPath: "auth.jwt.jwksURL", says: "is not an http or https URL"),
        .init(yaml: #"auth: {jwt: {jwksURL: "https://idp.example/jwks.json", tenant: a, tenantClaim: org}}"#, keyPath: "auth.jwt.tenantClaim",
              says: "not both"),
        .init(yaml: "auth: {jwt: {jwksFile: /nonexistent/jwks.json}}", keyPath: "auth.jwt.jwksFile", says: "there is no file at /nonexistent/jwks.json"),
        .init(yaml: "auth: {jwt: {secretEnv: JWT_SECRET}}", keyPath: "auth.jwt.secretEnv", says: "names JWT_SECRET, which is not set in the environment"),
        .init(yaml: "auth: {jwt: {secretEnv: JWT_SECRET}}", environment: ["JWT_SECRET": "too-short"], keyPath: "auth.jwt.secretEnv",
              says: "whose secret is 9 bytes: an HS256 secret must be at least 32 bytes"),
        .init(yaml: "auth: {jwt: {secretEnv: JWT_SECRET, leewaySeconds: 900}}", environment: ["JWT_SECRET": longSecret],
              keyPath: "auth.jwt.leewaySeconds", says: "must be from 0 to 300 seconds, not 900"),
        .init(yaml: #"auth: {jwt: {issuer: "https://idp.example"}}"#, keyPath: "auth.jwt",
              says: "sets issuer but no keys to verify tokens with: set jwksFile, jwksURL or secretEnv"),
    ]

    @Test(arguments: TenantValidationTests.mistakes)
    func eachMistakeIsOneProblemNamingItsKeyPath(_ mistake: AuthConfigurationMistake) async throws {
        let check = try await checkedConfiguration(mistake.yaml, environment: mistake.environment)
        #expect(!check.isValid)
        #expect(check.problems.map(\.keyPath) == [mistake.keyPath], "\(check.problems)")
        #expect(check.problems.first?.message.contains(mistake.says) == true, "\(check.problems)")
        // Problems name keys by their place, never the keys or secrets themselves.
        let described = check.problems.description
        for secret in ["sk-shared", "sk-one", "sk-operator", "sk-nobody", "too-short", Self.longSecret] {
            #expect(!described.contains(secret), "\(check.problems)")
        }
    }
}

@Suite struct AddressRangeTests {
    @Test func ipv4RangesHoldTheirAddressesOnly() throws {
        let private10 = try #require(AddressRange(cidr: "10.0.0.0/8"))
        #expect(private10.contains("10.1.2.3"))
        #expect(private10.contains("10.255.255.255"))
        #expect(!private10.contains("11.0.0.1"))
        #expect(!private10.contains("9.255.255.255"))
        // An IPv4 peer as a dual-stack socket reports it.
        #expect(private10.contains("::ffff:10.9.9.9"))
        #expect(!private10.contains("::ffff:11.9.9.9"))
        #expect(!private10.contains("fd00::1"))
        #expect(!private10.contains("not-an-address"))
        #expect(!private10.contains(""))
        #expect(!private10.contains("10.1.2"))

        let twelve = try #require(AddressRange(cidr: "172.16.0.0/12"))
        #expect(twelve.contains("172.31.255.255"))
        #expect(!twelve.contains("172.32.0.0"))
        #expect(!twelve.contains("172.15.255.255"))

        let hostBitsSet = try #require(AddressRange(cidr: "192.168.1.77/24"))
        #expect(hostBitsSet.contains("192.168.1.1"))
        #expect(!hostBitsSet.contains("192.168.2.1"))

        let one = try #require(AddressRange(cidr: "192.0.2.7"))
        #expect(one.contains("192.0.2.7"))
        #expect(!one.contains("192.0.2.8"))
        #expect(AddressRange(cidr: "192.0.2.7/32") == one)

        let everything = try #require(AddressRange(cidr: "0.0.0.0/0"))
        #expect(everything.contains("8.8.8.8"))
        #expect(!everything.contains("2001:db8::1"))
    }

    @Test func ipv6RangesHoldTheirAddressesOnly() throws {
        let uniqueLocal = try #require(AddressRange(cidr: "fd00::/8"))
        #expect(uniqueLocal.contains("fd12:3456:789a::1"))
        #expect(uniqueLocal.contains("[fd00::1]"))
        #expect(uniqueLocal.contains("fd00::1%eth0"))
        #expect(!uniqueLocal.contains("fe80::1"))
        #expect(!uniqueLocal.contains("10.0.0.1"))

        let documentation = try #require(AddressRange(cidr: "2001:db8::/33"))
        #expect(documentation.contains("2001:db8::1"))
        #expect(documentation.contains("2001:db8:7fff:ffff::1"))
        #expect(!documentation.contains("2001:db8:8000::1"))
        #expect(!documentation.contains("2001:db9::1"))

        let loopback = try #require(AddressRange(cidr: "::1"))
        #expect(loopback.contains("::1"))
        #expect(loopback.contains("0:0:0:0:0:0:0:1"))
        #expect(!loopback.contains("::2"))
        #expect(!loopback.contains("127.0.0.1"))
        #expect(AddressRange(cidr: "::1/128") == loopback)

        let all = try #require(AddressRange(cidr: "::/0"))
        #expect(all.contains("2001:db8::1"))
    }

    @Test func malformedRangesAreRefusedWithTheReason() {
        let bad = ["10.0.0.0/33", "10.0.0/8", "/8", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/8/9", "fd00::/129", "example.com", "", "1.2.3.4.5"]
        for text in bad {
            #expect(AddressRange(cidr: text) == nil, "\(text)")
            #expect(AddressRange.problem(cidr: text) != nil, "\(text)")
        }
        #expect(AddressRange.problem(cidr: "10.0.0.0/8") == nil)
        #expect(AddressRange.problem(cidr: "2001:db8::/32") == nil)
        #expect(AddressRange.problem(cidr: "10.0.0.0/33")?.contains("from 0 to 32") == true)
        #expect(AddressRange.problem(cidr: "fd00::/200")?.contains("from 0 to 128") == true)
    }
}
