import NIOSSL

/// The example's TLS settings: TLS 1.2 or later, and on TLS 1.2 only forward-secret AEAD suites
/// (ECDHE with AES-GCM or ChaCha20-Poly1305); no CBC, no SHA-1 MACs, no RSA key exchange. TLS 1.3
/// has only such suites.
enum ExampleTLS {
    /// The TLS 1.2 suites offered, strongest first.
    static let cipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// A server configuration for `certificate` and `key`.
    static func configuration(certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = cipherSuites
        return configuration
    }
}
