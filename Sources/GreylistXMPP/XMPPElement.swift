/// A parsed XML element: enough of the XML data model for XMPP stanzas.
public struct XMPPElement: Hashable, Sendable {
    /// The qualified name as written (`iq`, `stream:features`).
    public var name: String
    /// The element's namespace: its `xmlns` attribute, or the one it inherits.
    public var namespace: String
    /// Attributes by qualified name, values decoded.
    public var attributes: [String: String]
    /// Child elements in document order.
    public var children: [XMPPElement]
    /// The element's character data, decoded, concatenated.
    public var text: String

    /// Creates an element.
    ///
    /// - Parameters:
    ///   - name: The qualified name.
    ///   - namespace: The namespace.
    ///   - attributes: Attributes.
    ///   - children: Children.
    ///   - text: Character data.
    public init(name: String, namespace: String = "", attributes: [String: String] = [:], children: [XMPPElement] = [], text: String = "") {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child with this name and namespace.
    ///
    /// - Parameters:
    ///   - name: The child's name.
    ///   - namespace: The child's namespace.
    /// - Returns: The child, or `nil`.
    public func child(_ name: String, namespace: String) -> XMPPElement? {
        children.first { $0.name == name && $0.namespace == namespace }
    }

    /// The element as XML text; the namespace is written only where it differs from `parentNamespace`.
    ///
    /// - Parameter parentNamespace: The namespace in scope where the text goes.
    /// - Returns: Escaped XML.
    public func serialized(parentNamespace: String = "") -> String {
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
