/// A dense, insertion-ordered index over external ids (user or movie ids).
///
/// Models work on dense `Int32` indices `0..<count`; the index maps them back and forth.
package struct IDIndex: Sendable, Equatable {
    /// External id of each dense index.
    package private(set) var ids: [Int64] = []
    private var positions: [Int64: Int32] = [:]

    package init() {}

    package init(ids: [Int64]) {
        for id in ids { insert(id) }
    }

    package var count: Int { ids.count }

    /// The dense index of `id`, or nil when it is not known.
    package subscript(id: Int64) -> Int32? { positions[id] }

    /// Returns the dense index of `id`, adding it when it is new.
    @discardableResult
    package mutating func insert(_ id: Int64) -> Int32 {
        if let position = positions[id] { return position }
        let position = Int32(ids.count)
        ids.append(id)
        positions[id] = position
        return position
    }
}
