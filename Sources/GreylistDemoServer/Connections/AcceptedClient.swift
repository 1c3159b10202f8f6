import Greylist

/// Who an admitted connection is, as the accept path learned it: the address the caps count
/// under and the greylist judges, and whether its logins are reported at all.
struct AcceptedClient: Sendable {
    /// The socket's peer, or the client a trusted proxy's header named.
    var address: IPAddress
    /// `false` for a trusted proxy's connection whose header names no client (`LOCAL`,
    /// `UNKNOWN`, a Unix-socket or `AF_UNSPEC` source): its address is the proxy's own, so its
    /// failed logins count nowhere (they would ban the proxy, and every client behind it) and
    /// its logins earn no trust. Its stream still closes after its failed attempts.
    var reportsLogins = true
    /// What the client sent after a PROXY header, fed to the session first.
    var initialBytes: [UInt8] = []
}
