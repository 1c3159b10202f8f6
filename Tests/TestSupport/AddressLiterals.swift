import Greylist

extension IPAddress {
    /// Parses a literal the test knows is valid.
    package static func literal(_ text: String) -> IPAddress {
        try! IPAddress(text)
    }
}

extension IPNetwork {
    /// Parses a network the test knows is valid.
    package static func cidr(_ text: String) -> IPNetwork {
        try! IPNetwork(text)
    }
}
