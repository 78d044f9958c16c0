import Foundation
import NIOSSL

extension SluiceConfiguration {
    /// What a PEM file must hold.
    enum PEMContent {
        /// One or more certificates (a chain, or the authorities to trust).
        case certificates
        /// A private key.
        case privateKey
    }

    /// The problems of the cluster's settings: the lease and the poll, the advertised URL, the internal
    /// listener's port, and its TLS files (each must exist, be readable and hold what it is for).
    func checkCluster(_ list: inout ProblemList) {
        list.positive("cluster.leaseSeconds", cluster.leaseSeconds)
        list.positive("cluster.pollSeconds", cluster.pollSeconds)
        if let advertised = cluster.advertiseURL {
            list.webURL("cluster.advertiseURL", advertised, example: cluster.tls == nil ? "http://10.0.0.5:8080" : "https://10.0.0.5:8443")
            if cluster.tls != nil, cluster.internalPort != nil, URLComponents(string: advertised)?.scheme?.lowercased() == "http" {
                list.add("cluster.advertiseURL", """
                    \(ConfigurationProblem.quoted(advertised)) is plain http, but the internal listener speaks HTTPS (cluster.tls): \
                    write https://, with the internal listener's port (cluster.internalPort)
                    """)
            }
        }
        if let port = cluster.internalPort {
            if !(0...65535).contains(port) {
                list.add("cluster.internalPort", "must be a port number from 0 to 65535 (0 picks a free one), not \(port)")
            } else if port != 0, port == server.port {
                list.add("cluster.internalPort", "is server.port (\(port)): the internal routes need a port of their own, or leave it out to serve them on server.port")
            }
        }
        guard let tls = cluster.tls else { return }
        if cluster.internalPort == nil {
            list.add("cluster.tls", """
                is set without cluster.internalPort: the nodes speak TLS to each other on a listener of their own; \
                set cluster.internalPort (0 picks a free port)
                """)
        }
        if let file = tls.certFile {
            if let problem = Self.pemFileProblem(file, holding: .certificates) { list.add("cluster.tls.certFile", problem) }
        } else {
            list.add("cluster.tls.certFile", "is required with cluster.tls: the PEM certificate the internal listener presents")
        }
        if let file = tls.keyFile {
            if let problem = Self.pemFileProblem(file, holding: .privateKey) { list.add("cluster.tls.keyFile", problem) }
        } else {
            list.add("cluster.tls.keyFile", "is required with cluster.tls: the PEM private key of cluster.tls.certFile")
        }
        if let file = tls.caFile, let problem = Self.pemFileProblem(file, holding: .certificates) {
            list.add("cluster.tls.caFile", problem)
        }
    }

    /// What is wrong with a PEM file, or nil: it must exist, be readable, and hold `content`.
    static func pemFileProblem(_ path: String, holding content: PEMContent) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return "there is no file at \(path)" }
        guard let data = FileManager.default.contents(atPath: path) else { return "\(path) cannot be read" }
        switch content {
        case .certificates:
            let certificates = try? NIOSSLCertificate.fromPEMBytes(Array(data))
            return certificates?.isEmpty == false ? nil : "\(path) holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        case .privateKey:
            return (try? NIOSSLPrivateKey(bytes: Array(data), format: .pem)) != nil ? nil : "\(path) holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
        }
    }
}
