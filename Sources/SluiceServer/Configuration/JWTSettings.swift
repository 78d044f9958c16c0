import Configuration

extension SluiceConfiguration {
    /// End users' own tokens (`Authorization: Bearer <JWT>`), from the identity provider of the apps
    /// (Clerk, Supabase Auth, Firebase, …): where the keys that sign them are, what the tokens must say,
    /// and which claims name the tenant, user, role and plan. Configured when a key source is set
    /// (`jwksFile`, `jwksURL` or `secretEnv`).
    public struct JWTSettings: Sendable {
        /// The `iss` every token must carry; nil: not checked.
        public var issuer: String?
        /// An `aud` every token must carry; nil: not checked.
        public var audience: String?
        /// A JSON Web Key Set on disk (public keys: RS256, ES256, …).
        public var jwksFile: String?
        /// A JSON Web Key Set at an http(s) URL, fetched, cached, and fetched again on an unknown `kid`.
        public var jwksURL: String?
        /// The name of the environment variable holding the HS256 secret (never the secret itself).
        public var secretEnv: String?
        /// The HS256 secret, read from `secretEnv` as the configuration is loaded: a secret, never shown.
        public var secret: String?
        /// Seconds of clock difference allowed on `exp`, `nbf` and `iat` (default 30, at most 300).
        public var leewaySeconds = 30.0
        /// The tenant of every token (when the identity provider serves one tenant).
        public var tenant: String?
        /// The claim naming a token's tenant (when it serves many); not with `tenant`.
        public var tenantClaim: String?
        /// The claim naming the user (default `sub`); `X-Sluice-User` cannot override it.
        public var userClaim = "sub"
        /// The claim naming the role (default `role`); absent: `student`.
        public var roleClaim = "role"
        /// The claim naming the plan (default `plan`); absent: the tenant's default plan.
        public var planClaim = "plan"

        /// Creates the defaults (not configured).
        public init() {}

        /// Whether tokens are accepted: some key source is set.
        public var isConfigured: Bool { jwksFile != nil || jwksURL != nil || secretEnv != nil }

        /// The tenant of every token when no claim names it: `tenant`, or `default` when neither is set;
        /// nil when `tenantClaim` names it.
        public var fixedTenant: String? { tenantClaim == nil ? (tenant ?? "default") : nil }
    }
}

extension SluiceConfiguration.JWTSettings {
    /// Reads `auth.jwt`; the secret comes from the variable `secretEnv` names, in `environment`.
    /// - Parameters:
    ///   - config: the reader of `auth.jwt`.
    ///   - environment: the environment the secret is read from.
    init(config: ConfigReader, environment: [String: String]) {
        self.init()
        issuer = config.nonEmptyString(forKey: "issuer")
        audience = config.nonEmptyString(forKey: "audience")
        jwksFile = config.nonEmptyString(forKey: "jwksFile")
        jwksURL = config.nonEmptyString(forKey: "jwksURL")
        secretEnv = config.nonEmptyString(forKey: "secretEnv")
        secret = secretEnv.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        leewaySeconds = config.double(forKey: "leewaySeconds", default: leewaySeconds)
        tenant = config.nonEmptyString(forKey: "tenant")
        tenantClaim = config.nonEmptyString(forKey: "tenantClaim")
        userClaim = config.string(forKey: "userClaim", default: userClaim)
        roleClaim = config.string(forKey: "roleClaim", default: roleClaim)
        planClaim = config.string(forKey: "planClaim", default: planClaim)
    }
}
