import Greylist
import GreylistRedis

/// The `greylist.cluster` object: share bans with the other nodes through Redis, on top of the
/// local state directory (which stays the acknowledgement and the fallback).
///
/// ```json
/// "cluster": {"redis": "redis://127.0.0.1:6379/0", "namespace": "xmpp", "keyFile": "/etc/greylist/cluster.key"}
/// ```
struct ClusterSettings: Equatable, Sendable {
    /// `redis://[[user]:password@]host[:port][/database]`.
    var redis: String
    /// The key prefix shared by the cluster's nodes.
    var namespace = "greylist"
    /// Connect and command timeout.
    var timeout: Duration = .seconds(2)
    /// This node's id in messages; random when absent.
    var node: String?
    /// The file holding the secret every node shares; records without its tag are ignored.
    var keyFile = ""
    /// The key read from ``keyFile``.
    var key: ClusterKey?

    /// Reads the object, reporting every bad field; `nil` when it cannot be used.
    init?(reading reader: inout ConfigurationReader) {
        guard let url = reader.string("redis", default: nil) else {
            reader.report("redis", reason: "a cluster needs a redis URL such as redis://127.0.0.1:6379/0")
            return nil
        }
        redis = url
        namespace = reader.string("namespace", default: namespace) ?? namespace
        timeout = reader.duration("timeout", default: timeout)
        node = reader.string("node", default: nil)
        if let path = reader.string("keyFile", default: nil) {
            keyFile = path
            do {
                key = try ClusterKey(contentsOfFile: path)
            } catch {
                reader.report("keyFile", reason: error.code == .invalidSetting ? error.reason : error.description)
                return nil
            }
        } else {
            reader.report("keyFile", reason: "a cluster needs a key file every node shares (head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE): "
                + "without it, whoever can write to Redis could ban, unban or trust any address on every node")
            return nil
        }
        do {
            _ = try RedisStoreSettings(url: redis, namespace: namespace)
        } catch {
            if error.code == .invalidSetting {
                if error.subject == namespace {
                    reader.report("namespace", reason: error.reason)
                } else {
                    // The setting's text never holds the password.
                    reader.report("redis", shown: JSONValue.string(error.subject).description, reason: error.reason)
                }
            } else {
                reader.report("redis", shown: "", reason: error.description)
            }
            return nil
        }
        if let node, node.isEmpty || node.utf8.count > 64 || !node.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            reader.report("node", reason: "expected 1 to 64 printable ASCII characters without spaces")
            return nil
        }
    }

    /// The store's settings; rule-ban keys keep their history as long as the greylist does.
    func storeSettings(for configuration: GreylistConfiguration) throws(RedisError) -> RedisStoreSettings {
        var settings = try RedisStoreSettings(url: redis, namespace: namespace)
        settings.timeout = timeout
        settings.historyRetention = configuration.escalation.forgetAfter
        settings.unbanMemory = max(configuration.escalation.maxBan, .seconds(3_600))
        return settings
    }
}
