/// Where the cluster's Redis is and how the link behaves.
public struct RedisStoreSettings: Hashable, Sendable {
    /// An IPv4 or IPv6 literal (`localhost` is read as `127.0.0.1`).
    public var host: String
    /// The TCP port.
    public var port: Int
    /// The ACL user, or `nil` for `AUTH password` alone.
    public var username: String?
    /// `nil` for no `AUTH`.
    public var password: String?
    /// The database index (`SELECT`).
    public var database: Int
    /// Prefix of every key and of the channel: `<namespace>:ban:<network>`, `<namespace>:changes`.
    /// For Redis Cluster put it in braces (`{xmpp}`) so every key hashes to one slot.
    public var namespace: String
    /// For connecting, and for each command.
    public var timeout: Duration = .seconds(2)
    /// The first wait before reconnecting; it doubles up to ``maximumReconnectDelay``.
    public var reconnectDelay: Duration = .milliseconds(100)
    /// The longest wait between reconnection attempts.
    public var maximumReconnectDelay: Duration = .seconds(5)
    /// How long a rule ban's key outlives the ban, so its escalation history is shared: set it to
    /// the greylist's `escalation.forgetAfter`.
    public var historyRetention: Duration = .seconds(7 * 86_400)
    /// How long an unban is remembered for nodes that were away when it happened.
    public var unbanMemory: Duration = .seconds(7 * 86_400)
    /// Most changes waiting for Redis while it is away (later changes of one key replace earlier
    /// ones, so this bounds keys, not changes); past it the oldest are dropped and the whole
    /// state is shared again once Redis is back.
    public var maximumQueuedChanges: Int = 1_000_000

    /// Creates settings.
    ///
    /// - Parameters:
    ///   - host: An IPv4 or IPv6 literal, or `localhost`.
    ///   - port: The TCP port.
    ///   - username: The ACL user.
    ///   - password: The password.
    ///   - database: The database index.
    ///   - namespace: The key prefix.
    /// - Throws: ``RedisError/invalidSetting(_:reason:)`` naming the value.
    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
                database: Int = 0, namespace: String = "greylist") throws(RedisError) {
        guard (1...65_535).contains(port) else { throw .invalidSetting(String(port), reason: "a port must be 1...65535") }
        guard (0...1_000_000).contains(database) else { throw .invalidSetting(String(database), reason: "a database index must be 0 or more") }
        guard !namespace.isEmpty, namespace.utf8.count <= 64,
              namespace.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "*") && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "[") }) else {
            throw .invalidSetting(namespace, reason: "a namespace is 1 to 64 printable ASCII characters without spaces, *, ? or [")
        }
        self.host = host == "localhost" ? "127.0.0.1" : host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.namespace = namespace
    }

    /// Reads `redis://[[user]:password@]host[:port][/database]`; `host` may be `[ipv6]`.
    ///
    /// - Parameters:
    ///   - url: The URL.
    ///   - namespace: The key prefix.
    /// - Throws: ``RedisError/invalidSetting(_:reason:)`` naming the URL, its password hidden.
    public init(url: String, namespace: String = "greylist") throws(RedisError) {
        var rest = Substring(url)
        guard rest.hasPrefix("redis://") else {
            if rest.hasPrefix("rediss://") {
                throw .invalidSetting(Self.masked(url), reason: "TLS (rediss://) is not supported: reach Redis over loopback or a private network, "
                    + "or through a TLS tunnel such as stunnel or spiped, and give the tunnel's local end as redis://")
            }
            throw .invalidSetting(Self.masked(url), reason: "the URL must start with redis://")
        }
        rest = rest.dropFirst("redis://".count)
        var username: String?
        var password: String?
        var shown = Self.masked(url)
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : try Self.decoded(user, in: url)
                password = try Self.decoded(credentials[credentials.index(after: colon)...], in: url)
            } else {
                password = try Self.decoded(credentials, in: url)
            }
            shown = "redis://" + (username.map { $0 + ":" } ?? "") + "***@" + rest
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let text = rest[rest.index(after: slash)...]
            if !text.isEmpty {
                guard let value = Int(text), value >= 0 else { throw .invalidSetting(shown, reason: "the database must be a number") }
                database = value
            }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .invalidSetting(shown, reason: "an IPv6 host needs a closing ]") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { throw .invalidSetting(shown, reason: "the port must be a number") }
                port = value
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let value = Int(rest[rest.index(after: colon)...]) else { throw .invalidSetting(shown, reason: "the port must be a number") }
            port = value
        }
        guard !host.isEmpty else { throw .invalidSetting(shown, reason: "the URL names no host") }
        try self.init(host: host, port: port, username: username, password: password, database: database, namespace: namespace)
    }

    /// `url` as errors show it: credentials before an `@` become `***`, and so does a "port"
    /// that is not a number (a password whose `@host` was forgotten: `redis://user:Secret`).
    static func masked(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return "***" }
        let scheme = url[..<schemeEnd.upperBound]
        var authority = url[schemeEnd.upperBound...]
        var path = Substring("")
        if let slash = authority.firstIndex(of: "/") {
            path = authority[slash...]
            authority = authority[..<slash]
        }
        if let at = authority.lastIndex(of: "@") {
            return scheme + "***" + authority[at...] + path
        }
        if !authority.hasPrefix("["), let colon = authority.firstIndex(of: ":") {
            let port = authority[authority.index(after: colon)...]
            if port.isEmpty || !port.allSatisfy(\.isASCII) || !port.allSatisfy(\.isNumber) {
                return scheme + authority[..<colon] + ":***" + path
            }
        }
        return String(scheme + authority + path)
    }

    /// Percent-decodes a URL part.
    private static func decoded(_ part: Substring, in url: String) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var iterator = part.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else {
                throw .invalidSetting("redis://***", reason: "a bad %-escape in the credentials")
            }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `redis://host:port/db` without the password, for messages.
    public var displayed: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "redis://\(username.map { $0 + "@" } ?? "")\(shownHost):\(port)/\(database)"
    }

    /// The key of a record kind (`ban`, `trust`, `unban`) for a network.
    func key(_ kind: String, _ network: String) -> String {
        "\(namespace):\(kind):\(network)"
    }

    /// The channel every change is published on.
    var channel: String {
        "\(namespace):changes"
    }
}
