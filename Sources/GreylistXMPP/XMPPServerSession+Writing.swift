/// What the session writes: stanzas and stream errors as text, the stream header, and failures.
extension XMPPServerSession {
    func append(_ text: String, to output: inout XMPPSessionOutput) {
        output.bytes.append(contentsOf: text.utf8)
    }

    mutating func streamError(_ condition: String, text: String, into output: inout XMPPSessionOutput) {
        guard phase != .closed else { return }
        phase = .closed
        waiting = .nothing
        if !headerSent { append(streamHeader(), to: &output) }
        append("<stream:error><\(condition) xmlns='\(XMPPNamespace.streamErrors)'/>"
            + "<text xmlns='\(XMPPNamespace.streamErrors)'>\(XMLText.escape(text))</text></stream:error></stream:stream>", to: &output)
        output.closeReason = "\(condition): \(text)"
    }

    mutating func streamHeader() -> String {
        headerSent = true
        let id = String(UInt64.random(in: 0...UInt64.max, using: &identifiers), radix: 36)
        return "<?xml version='1.0'?><stream:stream xmlns='\(XMPPNamespace.client)' xmlns:stream='\(XMPPNamespace.streams)'"
            + " id='\(id)' from='\(XMLText.escape(settings.domain))' version='1.0' xml:lang='en'>"
    }

    func saslFailure(_ condition: String) -> String {
        "<failure xmlns='\(XMPPNamespace.sasl)'><\(condition)/></failure>"
    }

    func iqError(id: String, type: String, condition: String) -> String {
        "<iq type='error' id='\(XMLText.escape(id))'><error type='\(type)'><\(condition) xmlns='\(XMPPNamespace.stanzas)'/></error></iq>"
    }
}
