/// A parsed XML element: enough of the XML data model for XMPP stanzas.
struct XMLElement: Equatable, Sendable {
    /// The qualified name as written (`iq`, `stream:features`).
    var name: String
    /// The element's namespace: its `xmlns` attribute, or the one it inherits.
    var namespace: String
    var attributes: [String: String]
    var children: [XMLElement]
    var text: String

    init(name: String, namespace: String = "", attributes: [String: String] = [:], children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child with this local name and namespace.
    func child(_ name: String, namespace: String) -> XMLElement? {
        children.first { $0.name == name && $0.namespace == namespace }
    }

    /// The element as XML text; the namespace is written only where it differs from `parentNamespace`.
    func serialized(parentNamespace: String = "") -> String {
        var text = "<\(name)"
        if namespace != parentNamespace && attributes["xmlns"] == nil {
            text += " xmlns='\(XMLText.escape(namespace))'"
        }
        for key in attributes.keys.sorted() {
            text += " \(key)='\(XMLText.escape(attributes[key]!))'"
        }
        if children.isEmpty && self.text.isEmpty {
            return text + "/>"
        }
        text += ">" + XMLText.escape(self.text)
        for child in children {
            text += child.serialized(parentNamespace: namespace)
        }
        return text + "</\(name)>"
    }
}
