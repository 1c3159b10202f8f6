import Greylist
import NIOCore

extension IPAddress {
    /// The address of a NIO socket address, read from its `sockaddr` without text; `nil` for a
    /// Unix domain socket.
    ///
    /// - Parameter address: A channel's `remoteAddress`.
    public init?(_ address: SocketAddress) {
        switch address {
        case .v4(let ipv4):
            let bits = UInt32(bigEndian: ipv4.address.sin_addr.s_addr)
            self.init(bits: UInt128(0xFFFF) << 32 | UInt128(bits))
        case .v6(let ipv6):
            var bits: UInt128 = 0
            withUnsafeBytes(of: ipv6.address.sin6_addr) { bytes in
                for byte in bytes { bits = bits << 8 | UInt128(byte) }
            }
            self.init(bits: bits)
        case .unixDomainSocket:
            return nil
        }
    }
}
