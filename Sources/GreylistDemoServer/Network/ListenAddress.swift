import GreylistSystem
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Greylist

/// Where a listener binds: an IP literal (`127.0.0.1`, `::1`), `localhost`, or `::` for dual stack.
struct ListenAddress: CustomStringConvertible {
    let address: IPAddress
    let port: Int
    let isDualStack: Bool

    init(host: String, port: Int) throws(GreylistError) {
        self.address = host == "localhost" ? IPAddress(ipv4: 0x7F00_0001) : try IPAddress(host)
        self.port = port
        self.isDualStack = host.contains(":") && address.bits == 0
    }

    var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }

    /// Opens a listening socket bound to this address, blocking: the accept loop has a thread of its own.
    func listen(backlog: Int32 = 1_024) throws(SystemError) -> Int32 {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        let descriptor = try Syscalls.socket(family: family, type: Syscalls.streamSocket)
        do {
            try Syscalls.setOption(descriptor, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            if !address.isIPv4 {
                // "::" serves IPv4 clients too (as IPv4-mapped addresses, which the greylist folds).
                try Syscalls.setOption(descriptor, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: isDualStack ? 0 : 1)
            }
            if let ipv4 = address.ipv4 {
                var socketAddress = sockaddr_in()
                socketAddress.sin_family = sa_family_t(AF_INET)
                socketAddress.sin_port = UInt16(port).bigEndian
                socketAddress.sin_addr.s_addr = ipv4.bigEndian
                try withUnsafeBytes(of: &socketAddress) { (bytes) throws(SystemError) in
                    try Syscalls.bind(descriptor, bytes.baseAddress!, length: bytes.count, subject: description)
                }
            } else {
                var socketAddress = sockaddr_in6()
                socketAddress.sin6_family = sa_family_t(AF_INET6)
                socketAddress.sin6_port = UInt16(port).bigEndian
                withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { bytes in
                    for index in 0..<16 { bytes[index] = UInt8(truncatingIfNeeded: address.bits >> (120 - 8 * index)) }
                }
                try withUnsafeBytes(of: &socketAddress) { (bytes) throws(SystemError) in
                    try Syscalls.bind(descriptor, bytes.baseAddress!, length: bytes.count, subject: description)
                }
            }
            try Syscalls.listen(descriptor, backlog: backlog)
            return descriptor
        } catch {
            Syscalls.close(descriptor)
            throw error
        }
    }
}
