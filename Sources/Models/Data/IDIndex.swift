/// A dense, insertion-ordered index over external ids (user or movie ids).
///
/// Models work on dense `Int32` indices `0..<count`; the index maps them back and forth.
public struct IDIndex: Sendable, Equatable {
    /// External id of each dense index.
    public private(set) var ids: [Int64] = []
    private var positions: [Int64: Int32] = [:]

    public init() {}

    public init(ids: [Int64]) {
        for id in ids { insert(id) }
    }

    public var count: Int { ids.count }

    /// The dense index of `id`, or nil when it is not known.
    public subscript(id: Int64) -> Int32? { positions[id] }

    /// Returns the dense index of `id`, adding it when it is new.
    @discardableResult
    public mutating func insert(_ id: Int64) -> Int32 {
        if let position = positions[id] { return position }
        let position = Int32(ids.count)
        ids.append(id)
        positions[id] = position
        return position
    }
}
