import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A certificate and key for the example when none is configured: a fresh P-256 key and a
/// self-signed certificate for `domain`, valid from an hour ago for 30 days, made at start-up.
/// Clients must be told not to verify it (it is for trying the example, not for production).
enum SelfSignedCertificate {
    static func make(for domain: String) throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(domain) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3_600),
            notValidAfter: now.addingTimeInterval(30 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectAlternativeNames([.dnsName(domain)])
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return (try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der),
                try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem))
    }
}
